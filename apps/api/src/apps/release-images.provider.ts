import type { Provider } from '@nestjs/common';
import { ImageService, imageRoots } from '@paas/images';
import { type ReleaseImage, removeReleaseImages } from '@paas/platform/builds';
import { platformRegistryClient } from '../builds-queue/build-worker';
import { API_CONFIG, type ApiConfig } from '../config';

/** What a destroyed app's release images need: gone from the registry and this node's store. */
export interface ReleaseImageRemover {
  /** The refs removed. */
  remove(releases: readonly ReleaseImage[]): Promise<string[]>;
}

export const RELEASE_IMAGES = Symbol('RELEASE_IMAGES');

export const releaseImagesProvider: Provider = {
  provide: RELEASE_IMAGES,
  inject: [API_CONFIG],
  useFactory: (config: ApiConfig): ReleaseImageRemover => ({
    // opened when an app goes, not at start: an api without a store (a fresh root) starts as before
    remove: async (releases) =>
      removeReleaseImages(
        await ImageService.open(imageRoots(config.paths.root)),
        platformRegistryClient(config),
        releases,
      ),
  }),
};
