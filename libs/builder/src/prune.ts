/**
 * `builder prune`: the build cache removed, as `docker builder prune` does.
 *
 * - Cache mounts (`$PAAS_ROOT/builder/cache-mounts/<hash>[.<instance>]`): every one no running
 *   step uses. A step marks each cache directory it uses (`<dir>.use.<pid>.<random>`, see
 *   run-mounts.ts) *before* it looks for a prune in progress, and a prune takes its lock
 *   (`.prune.lock`) *before* it reads the marks: so either the prune sees the mark and keeps
 *   the directory, or the step sees the prune and waits for it to finish. A directory is
 *   renamed out of sight before it is removed, so nobody ever mounts half of one. Marks and
 *   `sharing=locked` lock files of dead processes are removed with it.
 * - Step cache entries (`$PAAS_ROOT/builder/cache/<key>.json`): those whose image is gone;
 *   with `all`, every entry, and the images they name when nothing else holds them (no tag,
 *   no container): the next build runs every step again.
 */
import { lstat, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, withLock } from '@paas/content';
import { type ImageService, ImageConflictError, ImageNotFoundError } from '@paas/images';
import type { Digest } from '@paas/oci';
import { BuildCache } from './build-cache';
import { builderRootOf } from './builder';
import { CACHE_MOUNTS_DIR, PRUNE_LOCK, USE_MARK } from './run-mounts';

export interface PruneOptions {
  /** Also every step cache entry and the images only they hold. */
  readonly all?: boolean;
  /** Image ids containers use: never removed. */
  readonly inUse?: ReadonlySet<Digest>;
  /** How long to wait for another prune; default 30 s. */
  readonly timeoutMs?: number;
}

export interface PruneResult {
  /** What was removed: `cache-mount:<name>`, `step:<key>`, `image:<id>`. */
  readonly deleted: string[];
  readonly reclaimedBytes: number;
}

const CACHE_DIR = /^[0-9a-f]{64}(\.\d+)?$/;

/** Prunes the build cache of the PAAS_ROOT `root` whose images are `images`. */
export async function pruneBuildCache(
  root: string,
  images: ImageService,
  options: PruneOptions = {},
): Promise<PruneResult> {
  const builderRoot = builderRootOf(root);
  const deleted: string[] = [];
  let reclaimedBytes = await pruneCacheMounts(join(builderRoot, CACHE_MOUNTS_DIR), deleted, options.timeoutMs);

  const cache = await BuildCache.open(builderRoot);
  const named = new Set<Digest>();
  for (const { key, entry } of await cache.entries()) {
    const present = entry !== undefined && (await images.load(entry.manifest)) !== undefined;
    if (present && !options.all) continue;
    await cache.delete(key);
    deleted.push(`step:${key}`);
    if (present && entry) named.add(entry.image);
  }
  // a tagged image (`-t` of a build, or by hand) is the user's, not the cache's
  const tagged = new Set((await images.list()).filter((i) => i.names.length > 0).map((i) => i.id));
  for (const id of named) {
    if (tagged.has(id)) continue;
    try {
      const removed = await images.remove(id, { inUse: options.inUse ?? new Set() });
      for (const d of removed.deleted) deleted.push(`image:${d}`);
    } catch (err) {
      // used by a container, tagged or removed meanwhile: kept
      if (!(err instanceof ImageConflictError) && !(err instanceof ImageNotFoundError)) throw err;
    }
  }
  if (named.size) reclaimedBytes += (await images.gc()).reclaimedBytes;
  return { deleted, reclaimedBytes };
}

async function pruneCacheMounts(dir: string, deleted: string[], timeoutMs = 30_000): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  return withLock(
    join(dir, PRUNE_LOCK),
    async () => {
      names = await readdir(dir);
      // what a prune that died half-way had renamed out of sight
      for (const name of names)
        if (name.startsWith('.doomed-')) await rm(join(dir, name), { recursive: true, force: true });
      const live = new Set<string>();
      const dead: string[] = [];
      for (const name of names) {
        const mark = USE_MARK.exec(name);
        const lock = /^(.*)\.lock$/.exec(name);
        const owner = mark ? Number(mark[2]) : lock ? await lockOwner(join(dir, name)) : undefined;
        const of = mark?.[1] ?? lock?.[1];
        if (of === undefined || name === PRUNE_LOCK) continue;
        if (owner !== undefined && isProcessAlive(owner)) live.add(of);
        else dead.push(name);
      }
      let bytes = 0;
      for (const name of names) {
        if (!CACHE_DIR.test(name) || live.has(name)) continue;
        bytes += await diskUsage(join(dir, name));
        const doomed = join(dir, `.doomed-${name}`);
        await rename(join(dir, name), doomed);
        await rm(doomed, { recursive: true, force: true });
        deleted.push(`cache-mount:${name}`);
      }
      for (const name of dead) {
        const of = USE_MARK.exec(name)?.[1] ?? name.replace(/\.lock$/, '');
        if (!live.has(of)) await rm(join(dir, name), { force: true });
      }
      return bytes;
    },
    { timeoutMs },
  );
}

async function lockOwner(path: string): Promise<number | undefined> {
  const pid = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Bytes the files below `path` hold on disk (allocated blocks, as du). */
async function diskUsage(path: string): Promise<number> {
  const st = await lstat(path);
  let total = st.blocks * 512;
  if (!st.isDirectory()) return total;
  for (const name of await readdir(path)) total += await diskUsage(join(path, name));
  return total;
}
