import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { diffUpperDir } from './diff';
import { extractLayer } from './extract';
import { fsx } from './fsx';
import { TarReader } from './tar-read';
import { isRoot, scratch, snapshot, streamOf } from './spec-helpers';

function mount(lower: string[], merged: string, upper?: { upper: string; work: string }): void {
  const options = [`lowerdir=${lower.join(':')}`];
  if (upper) options.push(`upperdir=${upper.upper}`, `workdir=${upper.work}`);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', options.join(','), merged]);
}

function umount(dir: string): void {
  spawnSync('umount', [dir]);
}

function overlayWorks(): boolean {
  if (!isRoot) return false;
  return spawnSync('grep', ['-qw', 'overlay', '/proc/filesystems']).status === 0;
}

async function listing(tar: Buffer): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of new TarReader(streamOf(tar)).entries()) names.push(entry.header.name);
  return names;
}

describe('layers/overlay: diff of a real upper dir', { skip: !overlayWorks() && 'needs root and overlayfs' }, () => {
  it('turns whiteouts and opaque dirs into .wh. entries that re-create the container view', async (t) => {
    const base = scratch(t);
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(base, d)) as [
      string,
      string,
      string,
      string,
    ];
    for (const d of [lower, upper, work, merged]) mkdirSync(d);
    mkdirSync(join(lower, 'opq'));
    mkdirSync(join(lower, 'sub/deep'), { recursive: true });
    writeFileSync(join(lower, 'keep.txt'), 'keep');
    writeFileSync(join(lower, 'gone.txt'), 'gone');
    writeFileSync(join(lower, 'opq/old1'), 'old');
    writeFileSync(join(lower, 'opq/old2'), 'old');
    writeFileSync(join(lower, 'sub/deep/file'), 'deep');
    writeFileSync(join(lower, 'sub/deep/stays'), 'stays');

    let expected: ReturnType<typeof snapshot>;
    mount([lower], merged, { upper, work });
    try {
      rmSync(join(merged, 'gone.txt'));
      rmSync(join(merged, 'opq'), { recursive: true });
      mkdirSync(join(merged, 'opq'));
      writeFileSync(join(merged, 'opq/new'), 'new');
      rmSync(join(merged, 'sub/deep/file'));
      appendFileSync(join(merged, 'keep.txt'), ' more');
      writeFileSync(join(merged, 'added.txt'), 'added');
      symlinkSync('added.txt', join(merged, 'link'));
      expected = snapshot(merged);
    } finally {
      umount(merged);
    }

    const tar = new PassThrough();
    const chunks: Buffer[] = [];
    tar.on('data', (c: Buffer) => chunks.push(c));
    const info = await diffUpperDir(upper, tar, { compression: 'none' });
    const layer = Buffer.concat(chunks);
    assert.equal(info.diffId, info.digest);
    const names = await listing(layer);
    for (const name of ['.wh.gone.txt', 'opq/', 'opq/.wh..wh..opq', 'opq/new', 'sub/deep/.wh.file', 'added.txt']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    assert.ok(!names.some((n) => n.includes('old1') || n === 'sub/deep/stays'), names.join(', '));

    // As a snapshot for overlay: the layer's dir goes above the lower dir.
    const snap = join(base, 'snap');
    const view = join(base, 'view');
    mkdirSync(snap);
    mkdirSync(view);
    await extractLayer(new PassThrough().end(layer), snap, { whiteouts: 'overlay' });
    assert.equal(fsx().lgetxattr(join(snap, 'opq'), 'trusted.overlay.opaque')?.toString(), 'y');
    mount([snap, lower], view);
    try {
      assert.deepEqual(snapshot(view), expected);
    } finally {
      umount(view);
    }

    // Flattened: applied onto a copy of the lower dir.
    const flat = join(base, 'flat');
    execFileSync('cp', ['-a', lower, flat]);
    await extractLayer(new PassThrough().end(layer), flat, { whiteouts: 'apply' });
    assert.deepEqual(snapshot(flat), expected);
  });
});
