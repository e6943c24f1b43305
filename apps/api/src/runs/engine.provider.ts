import type { Provider } from '@nestjs/common';
import { Engine } from '@paas/engine';
import { ImageService, imageRoots } from '@paas/images';
import { join } from 'node:path';
import { API_CONFIG, type ApiConfig } from '../config';

/** The container engine of the control plane's own node, for one-off runs. */
export const ENGINE = Symbol('ENGINE');

export async function openEngine(config: ApiConfig): Promise<Engine> {
  const images = await ImageService.open(imageRoots(config.paths.root));
  return new Engine({
    root: config.paths.root,
    images,
    binaries: {
      shim: config.engine.shim,
      runtime: config.engine.runtime,
      runtimeRoot: join(config.paths.run, 'runtime'),
    },
    initBinary: config.engine.init,
    network: { bridge: config.engine.bridge, runDir: join(config.paths.run, 'network') },
  });
}

export const engineProvider: Provider = { provide: ENGINE, inject: [API_CONFIG], useFactory: openEngine };
