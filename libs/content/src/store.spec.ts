import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Digest, MediaType, digestOf } from '@paas/oci';
import { BlobMismatchError, BlobNotFoundError } from './errors';
import { collectGarbage } from './gc';
import { ContentStore } from './store';

function blobsOnDisk(root: string): string[] {
  return readdirSync(join(root, 'blobs', 'sha256')).sort();
}

/** Every blob on disk hashes to its name: nothing partial under a final name. */
function assertConsistent(root: string): void {
  for (const hex of blobsOnDisk(root)) {
    assert.equal(digestOf(readFileSync(join(root, 'blobs', 'sha256', hex))), `sha256:${hex}`);
  }
}

describe('ContentStore', () => {
  let root: string;
  let store: ContentStore;
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'paas-content-'));
    store = await ContentStore.open(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('stores bytes under their digest and reads them back, whole and by range', async () => {
    const info = await store.writeBytes('hello world');
    assert.deepEqual(info, { digest: digestOf('hello world'), size: 11 });
    assert.equal(await store.has(info.digest), true);
    assert.equal((await store.readBytes(info.digest)).toString(), 'hello world');
    const chunks: Buffer[] = [];
    for await (const c of await store.createReadStream(info.digest, { start: 6, end: 10 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'world');
    assert.deepEqual(readdirSync(join(root, 'ingest')), []);
  });

  it('reports a missing blob as BLOB_UNKNOWN', async () => {
    const missing = digestOf('nope');
    assert.equal(await store.info(missing), undefined);
    await assert.rejects(store.readBytes(missing), BlobNotFoundError);
    await assert.rejects(store.createReadStream(missing), BlobNotFoundError);
  });

  it('stores a stream, hashing as it goes', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const info = await store.write(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    assert.equal(info.digest, digestOf(data));
    assert.equal(info.size, data.length);
  });

  it('refuses content that does not match the expected digest, storing nothing', async () => {
    const expected = { digest: digestOf('other'), size: 5 };
    await assert.rejects(store.writeBytes('hello', expected), (err: unknown) => {
      assert.ok(err instanceof BlobMismatchError);
      assert.match(err.message, /digest sha256:2cf24.* != expected sha256:/);
      return true;
    });
    assert.deepEqual(blobsOnDisk(root), []);
    assert.deepEqual(readdirSync(join(root, 'ingest')), []);
  });

  it('stops reading as soon as the stream exceeds the expected size', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    }
    await assert.rejects(store.write(endless(), { size: 4096 }), /size 5120 != expected 4096/);
    assert.ok(pulled <= 6);
    assert.deepEqual(blobsOnDisk(root), []);
  });

  it('stores nothing when the source fails part way (a truncated upload)', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    }
    await assert.rejects(store.write(failing()), /connection reset/);
    assert.deepEqual(blobsOnDisk(root), []);
    assert.deepEqual(readdirSync(join(root, 'ingest')), []);
  });

  it('detects a blob corrupted on disk when reading it', async () => {
    const info = await store.writeBytes('{"a":1}');
    writeFileSync(store.blobPath(info.digest), '{"a":2}');
    await assert.rejects(store.readBytes(info.digest), BlobMismatchError);
  });

  it('lets many writers store the same blob at once', async () => {
    const data = randomBytes(256 * 1024);
    const results = await Promise.all(Array.from({ length: 16 }, () => store.writeBytes(data)));
    for (const r of results) assert.equal(r.digest, digestOf(data));
    assert.deepEqual(blobsOnDisk(root), [digestOf(data).slice(7)]);
    assert.deepEqual(readdirSync(join(root, 'ingest')), []);
    assertConsistent(root);
  });

  it('never shows a partial blob when the writer is killed, and cleans its leftovers on open', async () => {
    const script = join(root, 'writer.ts');
    writeFileSync(
      script,
      `import { ContentStore } from ${JSON.stringify(join(__dirname, 'store.ts'))};
       (async () => {
         const store = await ContentStore.open(${JSON.stringify(root)});
         for (let n = 0; ; n++) {
           async function* slow() {
             for (let i = 0; i < 64; i++) { yield Buffer.alloc(64 * 1024, (n + i) % 251); await new Promise((r) => setImmediate(r)); }
           }
           await store.write(slow());
           process.stdout.write('.');
         }
       })();`,
    );
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assertConsistent(root);
    }
    await ContentStore.open(root, { staleIngestMs: 0 });
    assert.deepEqual(readdirSync(join(root, 'ingest')), []);
    assertConsistent(root);
  });

  describe('garbage collection', () => {
    async function image(tag: string): Promise<{ manifest: Digest; layer: Digest; config: Digest }> {
      const layer = await store.writeBytes(`layer ${tag}`);
      const config = await store.writeBytes(JSON.stringify({ tag }));
      const manifest = await store.writeBytes(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, ...config },
          layers: [{ mediaType: MediaType.ociLayerGzip, ...layer }],
        }),
      );
      return { manifest: manifest.digest, layer: layer.digest, config: config.digest };
    }

    /**
     * Blobs written a minute ago: the collection never sweeps a blob modified after it started,
     * and one written in the same millisecond as its start counts as after (a race the tests
     * must not depend on).
     */
    const age = (...digests: Digest[]): void => {
      const past = new Date(Date.now() - 60_000);
      for (const d of digests) utimesSync(store.blobPath(d), past, past);
    };

    it('keeps what the roots reach through indexes and manifests and removes the rest', async () => {
      const a = await image('a');
      const b = await image('b');
      const index = await store.writeBytes(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [{ mediaType: MediaType.ociManifest, digest: a.manifest, size: 1 }],
        }),
      );
      age(a.manifest, a.layer, a.config, b.manifest, b.layer, b.config, index.digest);
      const result = await collectGarbage(store, [{ digest: index.digest, mediaType: MediaType.ociIndex }]);
      assert.deepEqual(result.removed.map((r) => r.digest).sort(), [b.manifest, b.layer, b.config].sort());
      for (const d of [index.digest, a.manifest, a.layer, a.config]) assert.ok(await store.has(d));
      for (const d of [b.manifest, b.layer, b.config]) assert.equal(await store.has(d), false);
    });

    it('keeps blobs held by a live lease, and drops leases of dead processes', async () => {
      const held = await store.writeBytes('held');
      age(held.digest);
      const lease = await store.lease();
      await lease.add({ digest: held.digest, mediaType: MediaType.ociLayerGzip });
      assert.equal((await collectGarbage(store, [])).removed.length, 0);

      writeFileSync(
        join(store.leasesDir, 'dead.json'),
        JSON.stringify({ pid: 2 ** 22 + 1, roots: [{ digest: held.digest, mediaType: MediaType.ociLayer }] }),
      );
      await lease.release();
      const result = await collectGarbage(store, []);
      assert.deepEqual(
        result.removed.map((r) => r.digest),
        [held.digest],
      );
      assert.deepEqual(readdirSync(store.leasesDir), []);
    });

    it("never sweeps a blob written after the collection started, by the files' own clock", async () => {
      // the kernel stamps mtimes from a coarse clock behind Date.now(): a blob written right
      // after a Date.now() start looked older than the start, and was swept
      for (let round = 0; round < 300; round++) {
        const content = `written during collection ${round}`;
        const digest = digestOf(content);
        const roots: Iterable<never> = {
          // iterated once the collection has started, before it lists the blobs
          [Symbol.iterator]: () => {
            writeFileSync(store.blobPath(digest), content);
            return ([] as never[])[Symbol.iterator]();
          },
        };
        const result = await collectGarbage(store, roots);
        assert.deepEqual(result.removed, [], `round ${round}: a blob newer than the collection was swept`);
        await store.delete(digest);
      }
    });

    it('reports without removing on a dry run, and keeps blobs newer than the grace period', async () => {
      const a = await store.writeBytes('a');
      age(a.digest);
      assert.equal((await collectGarbage(store, [], { dryRun: true })).removed.length, 1);
      assert.ok(await store.has(a.digest));
      assert.equal((await collectGarbage(store, [], { graceMs: 120_000 })).removed.length, 0);
      assert.equal((await collectGarbage(store, [])).reclaimedBytes, 1);
    });
  });
});
