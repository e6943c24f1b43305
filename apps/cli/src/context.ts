import { ImageService, imageRoots } from '@paas/images';
import { loadCliConfig } from './config';
import type { CliIo } from './program';

/** The image store under PAAS_ROOT. */
export async function openImages(io: CliIo): Promise<ImageService> {
  return ImageService.open(imageRoots(loadCliConfig(io.env).paths.root));
}
