import { type Engine, openEngine as openEngineFrom } from '@paas/engine';
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
  return openEngineFrom(config.paths, config);
}
