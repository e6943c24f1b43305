import { join } from 'node:path';
import { Engine } from '@paas/engine';
import { ImageService, imageRoots } from '@paas/images';
import { loadCliConfig } from './config';
import type { CliIo } from './io';

/** The image store under PAAS_ROOT. */
export async function openImages(io: CliIo): Promise<ImageService> {
  return ImageService.open(imageRoots(loadCliConfig(io.env).paths.root));
}

/** The container engine over the image store. */
export async function openEngine(io: CliIo): Promise<Engine> {
  const config = loadCliConfig(io.env);
  const images = await ImageService.open(imageRoots(config.paths.root));
  return new Engine({
    root: config.paths.root,
    images,
    binaries: { shim: config.shim, runtime: config.runtime, runtimeRoot: join(config.paths.run, 'runtime') },
    initBinary: config.init,
    network: { bridge: config.bridge, runDir: join(config.paths.run, 'network') },
  });
}
