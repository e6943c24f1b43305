import assert from 'node:assert/strict';
import { constants, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { diffUpperDir } from './diff';
import { LayerError } from './errors';
import { fsx } from './fsx';
import { TarReader } from './tar-read';
import { isRoot, scratch, streamOf } from './spec-helpers';
import { parseWhiteout } from './whiteouts';

async function entries(upper: string): Promise<Array<{ name: string; type: string; xattrs: string[] }>> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await diffUpperDir(upper, out, { compression: 'none' });
  const list: Array<{ name: string; type: string; xattrs: string[] }> = [];
  for await (const e of new TarReader(streamOf(Buffer.concat(chunks))).entries()) {
    list.push({ name: e.header.name, type: e.header.type, xattrs: [...e.header.xattrs.keys()] });
  }
  return list;
}

describe('layers/whiteouts', () => {
  it('parses .wh. names and refuses those that name nothing', () => {
    assert.deepEqual(parseWhiteout('.wh.x'), { kind: 'whiteout', target: 'x' });
    assert.deepEqual(parseWhiteout('.wh..wh..opq'), { kind: 'opaque' });
    assert.deepEqual(parseWhiteout('.wh..wh.plnk'), { kind: 'aufs-meta' });
    assert.equal(parseWhiteout('x.wh.y'), null);
    for (const bad of ['.wh.', '.wh..', '.wh...']) assert.throws(() => parseWhiteout(bad), LayerError);
  });

  it(
    'translates both whiteout forms and opaque dirs, and drops overlay xattrs',
    { skip: !isRoot && 'needs root' },
    async (t) => {
      const upper = scratch(t);
      // Overlay shares one whiteout inode between deletions: hardlinked 0/0 devices.
      fsx().mknod(join(upper, 'gone'), constants.S_IFCHR, 0, 0);
      linkSync(join(upper, 'gone'), join(upper, 'gone-too'));
      writeFileSync(join(upper, 'xattr-gone'), '');
      fsx().lsetxattr(join(upper, 'xattr-gone'), 'trusted.overlay.whiteout', Buffer.from('y'));
      mkdirSync(join(upper, 'opaque'));
      fsx().lsetxattr(join(upper, 'opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
      writeFileSync(join(upper, 'opaque/new'), 'new');
      mkdirSync(join(upper, 'plain'));
      fsx().lsetxattr(join(upper, 'plain'), 'trusted.overlay.origin', Buffer.from('x'));
      fsx().lsetxattr(join(upper, 'plain'), 'user.kept', Buffer.from('k'));
      assert.deepEqual(await entries(upper), [
        { name: '.wh.gone', type: 'file', xattrs: [] },
        { name: '.wh.gone-too', type: 'file', xattrs: [] },
        { name: 'opaque/', type: 'dir', xattrs: [] },
        { name: 'opaque/.wh..wh..opq', type: 'file', xattrs: [] },
        { name: 'opaque/new', type: 'file', xattrs: [] },
        { name: 'plain/', type: 'dir', xattrs: ['user.kept'] },
        { name: '.wh.xattr-gone', type: 'file', xattrs: [] },
      ]);
    },
  );

  it('refuses an upper dir that uses metacopy or redirect_dir', { skip: !isRoot && 'needs root' }, async (t) => {
    const upper = scratch(t);
    writeFileSync(join(upper, 'f'), '');
    fsx().lsetxattr(join(upper, 'f'), 'trusted.overlay.metacopy', Buffer.alloc(0));
    await assert.rejects(entries(upper), (err: unknown) => err instanceof LayerError && err.problem === 'UNSUPPORTED');
  });
});
