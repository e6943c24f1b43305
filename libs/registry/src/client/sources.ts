/**
 * Where each blob was last pulled from or pushed to (`host/repository`), like Docker's
 * distribution metadata, so that a push to another repository of the same registry can ask
 * for a cross-repository mount instead of uploading the bytes again.
 */
import { readFile } from 'node:fs/promises';
import { withLock, writeFileAtomic } from '@paas/content';
import type { Digest } from '@paas/oci';

interface SourcesFile {
  version: 1;
  blobs: Record<string, string[]>;
}

/** Repositories remembered per blob; the most recent first. */
const KEEP = 5;

export class BlobSources {
  constructor(readonly path: string) {}

  /** Repositories on `host` known to hold `digest` (`path` only, without the host). */
  async on(host: string, digest: Digest): Promise<string[]> {
    const prefix = `${host}/`;
    return ((await this.read()).blobs[digest] ?? [])
      .filter((r) => r.startsWith(prefix))
      .map((r) => r.slice(prefix.length));
  }

  async record(repository: string, digests: readonly Digest[]): Promise<void> {
    await withLock(`${this.path}.lock`, async () => {
      const file = await this.read();
      for (const d of digests) {
        file.blobs[d] = [repository, ...(file.blobs[d] ?? []).filter((r) => r !== repository)].slice(0, KEEP);
      }
      await writeFileAtomic(this.path, JSON.stringify(file));
    });
  }

  private async read(): Promise<SourcesFile> {
    try {
      const file = JSON.parse(await readFile(this.path, 'utf8')) as SourcesFile;
      return file.blobs ? file : { version: 1, blobs: {} };
    } catch {
      return { version: 1, blobs: {} };
    }
  }
}
