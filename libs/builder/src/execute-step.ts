/**
 * What a step needs only when it actually runs (a cache miss): the container runner, the
 * copier and the engine they use. The builder loads this module lazily, so a fully cached
 * build never evaluates it.
 */
import { realpathSync } from 'node:fs';
import { RootResolver } from '@paas/layers';

export { copyInto } from './copy-files';
export { imageTree } from './image-source';
export { runInContainer } from './run-container';

/** WORKDIR: creates the directory (and its parents) inside the rootfs if missing. */
export function createWorkdir(rootfs: string, dir: string): void {
  new RootResolver(realpathSync(rootfs)).resolveDir(dir.replace(/^\/+|\/+$/g, ''), true);
}
