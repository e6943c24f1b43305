import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LayerError } from './errors';
import { cleanEntryPath, RootResolver } from './paths';
import { scratch } from './spec-helpers';

describe('layers/paths', () => {
  it('cleans names and takes absolute ones relative to the root', () => {
    assert.equal(cleanEntryPath('./a//b/./c/'), 'a/b/c');
    assert.equal(cleanEntryPath('/etc/passwd'), 'etc/passwd');
    assert.equal(cleanEntryPath('a/../b'), 'b');
    assert.equal(cleanEntryPath('./'), '');
    // Already-clean names take a fast path; dotted names that are not `.` or `..` are plain names.
    assert.equal(cleanEntryPath('etc/'), 'etc');
    assert.equal(cleanEntryPath('..a/b..'), '..a/b..');
    assert.equal(cleanEntryPath('a/.wh...'), 'a/.wh...');
    assert.equal(cleanEntryPath('a/b/.'), 'a/b');
  });

  for (const bad of ['..', '../x', 'a/../../x', '/../x', 'a/b/../../../x', 'x\0y']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => cleanEntryPath(bad),
        (err: unknown) => err instanceof LayerError && err.problem === 'UNSAFE',
      );
    });
  }

  it('follows symlinks inside the root only, creating missing directories', (t) => {
    const root = realpathSync(scratch(t));
    mkdirSync(join(root, 'real'));
    symlinkSync('/', join(root, 'toroot'));
    symlinkSync('../../..', join(root, 'real/up'));
    symlinkSync('/real', join(root, 'abs'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    writeFileSync(join(root, 'file'), '');
    const r = new RootResolver(root);
    assert.equal(r.resolveDir('toroot/etc', false), null);
    assert.equal(r.resolveDir('toroot/etc', true), 'etc');
    assert.equal(r.resolveDir('real/up/real', false), 'real');
    assert.equal(r.resolveDir('abs/x/y', true), 'real/x/y');
    assert.throws(() => r.resolveDir('loop1/x', true), /too many levels/);
    assert.throws(() => r.resolveDir('file/x', true), /not a directory/);
  });
});
