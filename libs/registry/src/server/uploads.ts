import { syncDir } from '@paas/content';
/**
 * Blob upload sessions (POST/PATCH/PUT): `<root>/uploads/<uuid>/{info.json,data}`.
 *
 * A chunk is appended at the session's offset while it is hashed; if the request fails part
 * way (client killed, connection cut, fewer bytes than Content-Length) the data file is
 * truncated back and the hash state restored, so the session stays resumable at its previous
 * offset and never holds half a chunk. On PUT the digest is compared and the file, fsynced,
 * is renamed into the content store's blob path: a blob becomes visible only complete and
 * verified, by one atomic rename, exactly as the content store's own writes do.
 *
 * Hash states live in memory; after a restart a session's file is hashed again on demand.
 * Sessions untouched for `maxAgeMs` are removed by `sweep`.
 */
import { type Hash, createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContentStore } from '@paas/content';
import { type Digest, digestAlgorithm } from '@paas/oci';
import { RegistryError } from '../errors';

export interface UploadSession {
  readonly uuid: string;
  readonly name: string;
  readonly offset: number;
}

interface LiveState {
  hash: Hash;
  offset: number;
  busy: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class UploadStore {
  private readonly dir: string;
  private readonly live = new Map<string, LiveState>();

  constructor(root: string) {
    this.dir = join(root, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async count(): Promise<number> {
    return (await readdir(this.dir).catch(() => [])).length;
  }

  async create(name: string): Promise<UploadSession> {
    const uuid = randomUUID();
    const dir = join(this.dir, uuid);
    await mkdir(dir);
    await writeFile(join(dir, 'data'), '');
    await writeFile(join(dir, 'info.json'), JSON.stringify({ name, startedAt: new Date().toISOString() }));
    this.live.set(uuid, { hash: createHash('sha256'), offset: 0, busy: false });
    return { uuid, name, offset: 0 };
  }

  /** The session `uuid` of repository `name`, or BLOB_UPLOAD_UNKNOWN. */
  async get(name: string, uuid: string): Promise<UploadSession> {
    const unknown = new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid });
    if (!UUID.test(uuid)) throw unknown;
    try {
      const info = JSON.parse(await readFile(join(this.dir, uuid, 'info.json'), 'utf8')) as { name: string };
      if (info.name !== name) throw unknown;
      const st = await stat(join(this.dir, uuid, 'data'));
      return { uuid, name, offset: st.size };
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw unknown;
    }
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must equal the current offset, else 416;
   * `length` (Content-Length) must be the number of bytes that arrive, else nothing is kept.
   */
  async append(
    session: UploadSession,
    source: Readable,
    options: { start?: number; length?: number } = {},
  ): Promise<UploadSession> {
    const state = await this.state(session);
    if (state.busy) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload', undefined, 416);
    }
    if (options.start !== undefined && options.start !== state.offset) {
      throw new RegistryError(
        'BLOB_UPLOAD_INVALID',
        `chunk starts at ${options.start} but the upload is at ${state.offset}`,
        { offset: state.offset },
        416,
      );
    }
    state.busy = true;
    const before = { hash: state.hash.copy(), offset: state.offset };
    const fh = await open(join(this.dir, session.uuid, 'data'), 'r+');
    let written = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        await fh.write(chunk, 0, chunk.length, before.offset + written);
        state.hash.update(chunk);
        written += chunk.length;
      }
      if (options.length !== undefined && written !== options.length) {
        throw new RegistryError('SIZE_INVALID', `got ${written} bytes, Content-Length said ${options.length}`);
      }
      state.offset = before.offset + written;
      return { ...session, offset: state.offset };
    } catch (err) {
      await fh.truncate(before.offset).catch(() => undefined);
      state.hash = before.hash;
      state.offset = before.offset;
      throw err;
    } finally {
      state.busy = false;
      await fh.close();
    }
  }

  /**
   * Verifies the session's bytes against `digest` and moves them into the content store.
   * A mismatch removes the session (as registry:2 does) and answers DIGEST_INVALID.
   */
  async commit(session: UploadSession, digest: Digest, store: ContentStore): Promise<number> {
    const state = await this.state(session);
    if (state.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload is still being written', undefined, 416);
    const data = join(this.dir, session.uuid, 'data');
    const actual =
      digestAlgorithm(digest) === 'sha256'
        ? `sha256:${state.hash.copy().digest('hex')}`
        : await hashFile(data, digestAlgorithm(digest));
    if (actual !== digest) {
      await this.cancel(session.uuid);
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
        expected: digest,
        actual,
      });
    }
    const fh = await open(data, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const final = store.blobPath(digest);
    await rename(data, final);
    await syncDir(dirname(final));
    await this.cancel(session.uuid);
    return state.offset;
  }

  async cancel(uuid: string): Promise<void> {
    this.live.delete(uuid);
    await rm(join(this.dir, uuid), { recursive: true, force: true });
  }

  /** Removes sessions whose data has not changed for `maxAgeMs` (dead or abandoned clients). */
  async sweep(maxAgeMs: number): Promise<number> {
    let removed = 0;
    const cutoff = Date.now() - maxAgeMs;
    for (const uuid of await readdir(this.dir).catch(() => [])) {
      if (this.live.get(uuid)?.busy) continue;
      const st =
        (await stat(join(this.dir, uuid, 'data')).catch(() => undefined)) ??
        (await stat(join(this.dir, uuid)).catch(() => undefined));
      if (st && st.mtimeMs <= cutoff) {
        await this.cancel(uuid);
        removed++;
      }
    }
    return removed;
  }

  private async state(session: UploadSession): Promise<LiveState> {
    let state = this.live.get(session.uuid);
    if (!state || (!state.busy && state.offset !== session.offset)) {
      // after a restart (or a change behind our back) the file is the truth
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(join(this.dir, session.uuid, 'data'))) hash.update(chunk as Buffer);
      state = { hash, offset: session.offset, busy: false };
      this.live.set(session.uuid, state);
    }
    return state;
  }
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}
