/**
 * The content store: immutable blobs named by their digest under
 * `<root>/blobs/<algorithm>/<hex>`, as an OCI image layout names them.
 *
 * Writes go to `<root>/ingest/<random>`, are hashed while they stream, checked against the
 * expected digest and size, fsynced, then renamed into place; nothing half-written is ever
 * visible under a final name. Concurrent writers of the same blob each write their own temp
 * file and the renames are atomic, so any of them may win with the same bytes. A crashed
 * writer leaves only an ingest file, which `open` removes once it is stale.
 */
import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { ensureDirMode } from './dir-mode';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Digest, Digester, digestAlgorithm, digestHex, parseDigest } from '@paas/oci';
import { syncDir } from './atomic';
import { BlobMismatchError, BlobNotFoundError } from './errors';
import { Lease } from './lease';

export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

export interface Expected {
  readonly digest?: Digest;
  readonly size?: number;
}

export interface OpenOptions {
  /** Ingest files untouched for this long belong to dead writers and are removed. */
  readonly staleIngestMs?: number;
}

const DEFAULT_STALE_INGEST_MS = 60 * 60 * 1000;

/** writev, which a regular file takes whole but for a full disk: a short write is an error. */
async function writeAll(fh: FileHandle, chunks: Uint8Array[], length: number): Promise<void> {
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten !== length) throw new Error(`short write: ${bytesWritten} of ${length} bytes`);
}

/** Bytes a blob write hands the kernel at once. */
const WRITE_BATCH = 1024 * 1024;
/** A blob read stream's chunk: big enough that serving a layer is a few hundred reads. */
const READ_CHUNK = 512 * 1024;

export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;
  readonly leasesDir: string;

  private constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs');
    this.ingestDir = join(root, 'ingest');
    this.leasesDir = join(root, 'leases');
  }

  /** Opens (creating if needed) the store at `root` and removes stale ingest files. */
  static async open(root: string, options: OpenOptions = {}): Promise<ContentStore> {
    const store = new ContentStore(root);
    await ensureDirMode(root); // blobs are images' and backups' content: the engine's and platform's only
    await mkdir(join(store.blobsDir, 'sha256'), { recursive: true });
    await mkdir(join(store.blobsDir, 'sha512'), { recursive: true });
    await mkdir(store.ingestDir, { recursive: true });
    await store.removeStaleIngests(options.staleIngestMs ?? DEFAULT_STALE_INGEST_MS);
    return store;
  }

  /** Where the blob lives (whether or not it exists). */
  blobPath(digest: Digest): string {
    return join(this.blobsDir, digestAlgorithm(digest), digestHex(digest));
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  /** A stream of the blob's bytes, optionally a byte range [start, end] inclusive. */
  async createReadStream(digest: Digest, range: { start?: number; end?: number } = {}): Promise<ReadStream> {
    const fh = await open(this.blobPath(digest), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new BlobNotFoundError(digest) : err;
    });
    return fh.createReadStream({ ...range, autoClose: true, highWaterMark: READ_CHUNK });
  }

  /** Reads a small blob (manifests, configs) whole, verifying its digest. */
  async readBytes(digest: Digest): Promise<Buffer> {
    const fh = await open(this.blobPath(digest), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new BlobNotFoundError(digest) : err;
    });
    let data: Buffer;
    try {
      data = await fh.readFile();
    } finally {
      await fh.close();
    }
    const d = new Digester(digestAlgorithm(digest));
    d.update(data);
    const actual = d.digest();
    if (actual !== digest) throw new BlobMismatchError({ digest }, { digest: actual, size: data.length });
    return data;
  }

  async readJson<T>(digest: Digest): Promise<T> {
    return JSON.parse((await this.readBytes(digest)).toString('utf8')) as T;
  }

  /** Stores bytes held in memory. */
  writeBytes(data: Uint8Array | string, expected: Expected = {}): Promise<BlobInfo> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    return this.write([bytes], expected);
  }

  /**
   * Stores a stream. With `expected`, the blob becomes visible only if the digest and size
   * match; otherwise `BlobMismatchError` and nothing is stored. A source that errors part way
   * leaves nothing either.
   */
  async write(
    source: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    expected: Expected = {},
  ): Promise<BlobInfo> {
    const algorithm = expected.digest ? digestAlgorithm(expected.digest) : 'sha256';
    const digester = new Digester(algorithm);
    const temp = join(this.ingestDir, `${randomBytes(12).toString('hex')}.part`);
    const fh = await open(temp, 'wx', 0o644);
    let committed = false;
    try {
      // chunks (a socket's are ~64 KiB) go down a MiB at a time: one trip to the thread pool
      // and one syscall instead of sixteen
      let batch: Uint8Array[] = [];
      let batched = 0;
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        digester.update(chunk);
        if (expected.size !== undefined && digester.size > expected.size) {
          throw new BlobMismatchError(expected, { digest: digester.digest(), size: digester.size });
        }
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          await writeAll(fh, batch, batched);
          batch = [];
          batched = 0;
        }
      }
      if (batch.length) await writeAll(fh, batch, batched);
      const actual = { digest: digester.digest(), size: digester.size };
      if (
        (expected.digest !== undefined && expected.digest !== actual.digest) ||
        (expected.size !== undefined && expected.size !== actual.size)
      ) {
        throw new BlobMismatchError(expected, actual);
      }
      await fh.sync();
      await fh.close();
      const final = this.blobPath(actual.digest);
      await rename(temp, final);
      committed = true;
      await syncDir(join(this.blobsDir, algorithm));
      return actual;
    } finally {
      if (!committed) {
        await fh.close().catch(() => undefined);
        await unlink(temp).catch(() => undefined);
      }
    }
  }

  /** Removes a blob; false when it was not there. */
  async delete(digest: Digest): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Every blob in the store, with its size and modification time. */
  async *list(): AsyncIterable<BlobInfo & { mtimeMs: number }> {
    for (const algorithm of await readdir(this.blobsDir)) {
      for (const hex of await readdir(join(this.blobsDir, algorithm))) {
        let digest: Digest;
        try {
          digest = parseDigest(`${algorithm}:${hex}`);
        } catch {
          continue; // not ours: never produced by write()
        }
        const st = await stat(join(this.blobsDir, algorithm, hex)).catch(() => undefined);
        if (st) yield { digest, size: st.size, mtimeMs: st.mtimeMs };
      }
    }
  }

  /** A lease that keeps the blobs added to it from GC until released or this process dies. */
  lease(): Promise<Lease> {
    return Lease.create(this.leasesDir);
  }

  /**
   * Now, by the clock the store's files are stamped with (whole milliseconds, rounded down):
   * the kernel stamps mtimes from a coarse clock that lags Date.now() by up to a tick (4 ms at
   * HZ=250), so a file written just after a Date.now() can look older than it. Whatever
   * compares blob mtimes with "now" takes its now from here.
   */
  async fileClock(): Promise<number> {
    const path = join(this.ingestDir, `${randomBytes(8).toString('hex')}.clock`);
    await (await open(path, 'wx')).close();
    try {
      return Math.floor((await stat(path)).mtimeMs);
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }

  /** Marks a blob as recently used so a concurrent GC's grace period protects it. */
  async touch(digest: Digest): Promise<void> {
    const now = new Date();
    await utimes(this.blobPath(digest), now, now).catch(() => undefined);
  }

  private async removeStaleIngests(staleMs: number): Promise<void> {
    const cutoff = Date.now() - staleMs;
    for (const name of await readdir(this.ingestDir)) {
      const path = join(this.ingestDir, name);
      const st = await stat(path).catch(() => undefined);
      if (st && st.mtimeMs <= cutoff) await rm(path, { force: true, recursive: true });
    }
  }
}
