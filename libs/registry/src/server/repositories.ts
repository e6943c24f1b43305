/**
 * What each repository holds: the blobs linked into it, its manifests and its tags, as one
 * small JSON index per repository (`<root>/repositories/<name>/_repo.json`). Blob bytes live
 * once in the shared content store; a repository only "links" them, as registry:2 does, so a
 * blob is visible in a repository only after it was pushed, mounted or referenced there.
 *
 * `_repo.json` cannot collide with a repository directory: a name component never starts with
 * an underscore. Every change is read-modify-write under the repository's lock file and lands
 * by atomic rename.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import type { Digest } from '@paas/oci';

export interface ManifestRecord {
  readonly mediaType: string;
  readonly size: number;
  /** `subject.digest`, for the referrers API. */
  readonly subject?: Digest;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export interface RepositoryIndex {
  version: 1;
  /** Linked blobs and their sizes. */
  blobs: Record<string, number>;
  manifests: Record<string, ManifestRecord>;
  tags: Record<string, Digest>;
}

const INDEX = '_repo.json';
const LOCK = '_repo.lock';

export class RepositoryStore {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'repositories');
  }

  /** The repository's index, or undefined when nothing was ever pushed to it. */
  async read(name: string): Promise<RepositoryIndex | undefined> {
    try {
      return JSON.parse(await readFile(join(this.repoDir(name), INDEX), 'utf8')) as RepositoryIndex;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Changes the repository's index under its lock; `change` may mutate and return a value. */
  async update<T>(name: string, change: (index: RepositoryIndex) => T): Promise<T> {
    const dir = this.repoDir(name);
    return withLock(join(dir, LOCK), async () => {
      const index = (await this.read(name)) ?? { version: 1, blobs: {}, manifests: {}, tags: {} };
      const result = change(index);
      await writeFileAtomic(join(dir, INDEX), JSON.stringify(index));
      return result;
    });
  }

  /** Every repository name, sorted (the catalog). */
  async names(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (entry.name === INDEX && prefix) found.push(prefix);
        else if (entry.isDirectory())
          await walk(join(dir, entry.name), prefix ? `${prefix}/${entry.name}` : entry.name);
      }
    };
    await walk(this.dir, '');
    return found.sort();
  }

  /** `name` must already be validated (names.ts): its components are safe path segments. */
  private repoDir(name: string): string {
    return join(this.dir, ...name.split('/'));
  }
}
