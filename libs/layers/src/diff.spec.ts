import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  createReadStream,
  createWriteStream,
  linkSync,
  lutimesSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { digestOf } from '@paas/oci';
import { type Compression, tarDirectory } from './index';
import { extractLayer } from './extract';
import { fsx } from './fsx';
import { isRoot, scratch, snapshot } from './spec-helpers';

/** A tree with every kind of thing a layer carries. */
function makeTree(root: string): void {
  mkdirSync(join(root, 'etc/ssl'), { recursive: true });
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(root, 'etc/ssl/key'), 'secret');
  chmodSync(join(root, 'etc/ssl/key'), 0o600);
  mkdirSync(join(root, 'empty'));
  chmodSync(join(root, 'empty'), 0o1777);
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'bin/tool'), Buffer.alloc(300_000, 7));
  // Between half and all of the writer's staging buffer: must not overtake its header.
  writeFileSync(join(root, 'bin/mid'), Buffer.alloc(200_000, 9));
  chmodSync(join(root, 'bin/tool'), 0o4755);
  linkSync(join(root, 'bin/tool'), join(root, 'bin/tool-alias'));
  symlinkSync('tool', join(root, 'bin/relative-link'));
  symlinkSync('/etc/hosts', join(root, 'bin/absolute-link'));
  symlinkSync('../nowhere', join(root, 'bin/dangling'));
  const long = join(root, 'd'.repeat(90), 'e'.repeat(90));
  mkdirSync(long, { recursive: true });
  writeFileSync(join(long, `${'f'.repeat(150)}.txt`), 'long name');
  writeFileSync(join(root, 'héllo wörld ☃'), 'unicode');
  writeFileSync(join(root, 'xattr'), 'x');
  fsx().lsetxattr(join(root, 'xattr'), 'user.comment', Buffer.from('hello'));
  if (isRoot) {
    fsx().lsetxattr(join(root, 'bin/relative-link'), 'trusted.on-a-link', Buffer.from([0, 1, 2, 255]));
    chownSync(join(root, 'etc/ssl/key'), 1234, 5678);
    fsx().lsetxattr(join(root, 'bin/tool'), 'security.capability', capability());
  }
  utimesSync(join(root, 'etc/hosts'), 1_600_000_000, 1_600_000_000);
  lutimesSync(join(root, 'bin/dangling'), 1_500_000_000, 1_500_000_000);
  utimesSync(join(root, 'etc'), 1_650_000_000, 1_650_000_000);
}

/** cap_net_bind_service+ep as setcap writes it (VFS_CAP_REVISION_2). */
function capability(): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0);
  b.writeUInt32LE(1 << 10, 4);
  return b;
}

function collect(): { sink: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      done();
    },
  });
  return { sink, bytes: () => Buffer.concat(parts) };
}

async function roundTrip(t: { after(fn: () => void): void }, compression: Compression): Promise<void> {
  const src = join(scratch(t), 'src');
  mkdirSync(src);
  makeTree(src);
  const out = collect();
  const info = await tarDirectory(src, out.sink, { compression });
  const blob = out.bytes();
  assert.equal(info.size, blob.length);
  assert.equal(info.digest, digestOf(blob));
  const dest = scratch(t);
  const result = await extractLayer(new PassThrough().end(blob), dest);
  assert.equal(result.diffId, info.diffId);
  assert.equal(result.compression, compression);
  assert.equal(result.bytes, info.tarSize);
  assert.deepEqual(snapshot(dest), snapshot(src));
}

describe('layers/diff: tarDirectory and extractLayer', () => {
  it('round-trips a tree exactly through gzip', (t) => roundTrip(t, 'gzip'));
  it('round-trips a tree exactly uncompressed', (t) => roundTrip(t, 'none'));
  it('round-trips through zstd when the binary is installed', { skip: !hasZstd() && 'no zstd' }, (t) =>
    roundTrip(t, 'zstd'),
  );

  it('is deterministic: the same tree gives the same digests, fixedMtime pins times', async (t) => {
    const a = join(scratch(t), 'a');
    mkdirSync(a);
    makeTree(a);
    const first = await tarDirectory(a, collect().sink);
    const second = await tarDirectory(a, collect().sink);
    assert.deepEqual(first, second);
    const pinned = collect();
    await tarDirectory(a, pinned.sink, { compression: 'none', fixedMtime: new Date('2020-01-01T00:00:00Z') });
    const listing = execFileSync('tar', ['--full-time', '-tvf', '-'], { input: pinned.bytes() }).toString();
    assert.ok(
      listing
        .split('\n')
        .filter(Boolean)
        .every((line) => line.includes('2020-01-01 00:00:00')),
      listing,
    );
  });

  it('makes a one-small-file layer of a few hundred bytes', async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'hello.txt'), 'hello, world\n');
    const info = await tarDirectory(dir, collect().sink);
    assert.ok(info.size < 400, `${info.size} bytes`);
    assert.equal(info.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  it('writes archives GNU tar reads, xattrs included', async (t) => {
    const src = join(scratch(t), 'src');
    mkdirSync(src);
    makeTree(src);
    const file = join(scratch(t), 'layer.tar.gz');
    await tarDirectory(src, createWriteStream(file));
    const dest = scratch(t);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xzpf', file, '-C', dest]);
    assert.deepEqual(snapshot(dest), snapshot(src));
  });

  it('reads archives GNU tar writes, in gnu and posix formats', async (t) => {
    const src = join(scratch(t), 'src');
    mkdirSync(src);
    makeTree(src);
    for (const format of ['gnu', 'posix']) {
      const file = join(scratch(t), `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '--xattrs', '--xattrs-include=*', '-cf', file, '-C', src, '.']);
      const dest = scratch(t);
      await extractLayer(createReadStream(file), dest);
      // GNU tar's "./" entry carries the source root's metadata, which we apply too.
      assert.deepEqual(snapshot(dest), snapshot(src), format);
    }
  });

  it('reports the same diff id as sha256 of the uncompressed stream', async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'f'), 'data');
    const gz = collect();
    const info = await tarDirectory(dir, gz.sink);
    const raw = execFileSync('gzip', ['-dc'], { input: gz.bytes() });
    assert.equal(info.diffId, digestOf(raw));
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'data');
  });
});

function hasZstd(): boolean {
  return spawnSync('zstd', ['--version']).status === 0;
}
