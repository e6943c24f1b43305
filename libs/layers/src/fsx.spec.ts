import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findAddon, fsx } from './fsx';
import { isRoot, scratch } from './spec-helpers';

describe('layers/fsx', () => {
  it('finds the addon above this directory', () => {
    assert.match(findAddon(__dirname), /native\/fsx\/build\/fsx\.node$/);
  });

  it('says how to build it when it is missing', (t) => {
    const dir = join(scratch(t), 'a/b');
    mkdirSync(dir, { recursive: true });
    assert.throws(() => findAddon(dir), /native\/fsx is not built.*run infra\/bootstrap\.sh/);
  });

  it('acts on a symlink itself and throws fs-style errors', { skip: !isRoot && 'trusted.* needs root' }, (t) => {
    const link = join(scratch(t), 'link');
    symlinkSync('/nonexistent', link);
    fsx().lsetxattr(link, 'trusted.paas-spec', Buffer.from([0, 255]));
    assert.deepEqual(fsx().lgetxattr(link, 'trusted.paas-spec'), Buffer.from([0, 255]));
    assert.equal(fsx().lgetxattr(link, 'trusted.absent'), null);
    assert.throws(
      () => fsx().llistxattr(`${link}-missing`),
      (err: unknown) => err instanceof Error && 'code' in err && err.code === 'ENOENT' && 'syscall' in err,
    );
  });
});
