/**
 * The step cache index: `$PAAS_ROOT/builder/cache/<key>.json` names the image a step made.
 * One file per key, written atomically, so builds running side by side share the cache
 * without a lock and a crash never leaves a half-written entry under a final name.
 *
 * The images themselves stay in the image store as dangling entries (so GC keeps their blobs
 * and snapshots). `image prune` may remove them; an entry whose image is gone is a miss, and
 * the step is simply run again.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDirMode, writeFileAtomic } from '@paas/content';
import { type Digest, isDigest } from '@paas/oci';

export interface CacheEntry {
  /** Manifest digest of the image the step produced. */
  readonly manifest: Digest;
  /** Its id (config digest), for messages. */
  readonly image: Digest;
  readonly created: string;
}

export class BuildCache {
  private constructor(readonly dir: string) {}

  static async open(builderRoot: string): Promise<BuildCache> {
    const dir = join(builderRoot, 'cache');
    // steps' cache, cache mounts, steps' roots: builds' files, root's alone (an escaped
    // container process must not read them nor run a setuid file a step made)
    await ensureDirMode(builderRoot);
    await mkdir(dir, { recursive: true });
    return new BuildCache(dir);
  }

  private path(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`invalid cache key ${JSON.stringify(key)}`);
    return join(this.dir, `${key}.json`);
  }

  /** The entry for a key; undefined when absent or unreadable (a miss, never an error). */
  async get(key: string): Promise<CacheEntry | undefined> {
    try {
      const entry = JSON.parse(await readFile(this.path(key), 'utf8')) as Partial<CacheEntry>;
      if (!isDigest(entry.manifest) || !isDigest(entry.image)) return undefined;
      return entry as CacheEntry;
    } catch {
      return undefined;
    }
  }

  async put(key: string, entry: Omit<CacheEntry, 'created'>): Promise<void> {
    const body: CacheEntry = { ...entry, created: new Date().toISOString() };
    await writeFileAtomic(this.path(key), `${JSON.stringify(body)}\n`);
  }

  /** Every key with its entry (undefined when unreadable), for `builder prune`. */
  async entries(): Promise<Array<{ key: string; entry: CacheEntry | undefined }>> {
    const keys = (await readdir(this.dir)).flatMap((name) => /^([0-9a-f]{64})\.json$/.exec(name)?.[1] ?? []);
    return Promise.all(keys.map(async (key) => ({ key, entry: await this.get(key) })));
  }

  /** Forgets a key whose image is gone, so the next lookup does not try it again. */
  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
