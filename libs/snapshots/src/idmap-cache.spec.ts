import assert from 'node:assert/strict';
import { fstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdmapCache, idmapCache } from './idmap-cache';
import { IdmapRefusedError, MountError, isMountPoint, mountIdmappedOverlay, unmount } from './mount';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('idmapped lower views, cached', () => {
  const mapping = { hostId: 1_500_000_000, size: 65536 };
  let dir: string;
  let fdsBefore: number;
  const targets = ['t1', 't2'];
  before(() => {
    idmapCache.clear();
    fdsBefore = openFds();
    dir = mkdtempSync(join(tmpdir(), 'paas-idmap-cache-'));
    for (const d of ['lower1', 'lower2', 'u1', 'w1', 'u2', 'w2', ...targets]) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'lower1', 'a'), 'top');
    writeFileSync(join(dir, 'lower2', 'a'), 'bottom');
    writeFileSync(join(dir, 'lower2', 'b'), 'b');
  });
  after(async () => {
    for (const t of targets) await unmount(join(dir, t));
    idmapCache.clear();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(openFds(), fdsBefore, 'every fd the cache opened is closed');
  });

  const overlay = (i: number): Promise<void> =>
    mountIdmappedOverlay(
      [join(dir, 'lower1'), join(dir, 'lower2')],
      join(dir, `u${i}`),
      join(dir, `w${i}`),
      join(dir, `t${i}`),
      mapping,
    );

  it('serves a second overlay of the same lowers and mapping from the views the first made', async () => {
    const made = idmapCache.counts.made;
    await overlay(1);
    assert.equal(idmapCache.counts.made, made + 3, 'one namespace and a tree per lower');
    assert.equal(idmapCache.size, 3);
    const reused = idmapCache.counts.reused;
    await overlay(2); // while the first is still mounted
    assert.equal(idmapCache.counts.made, made + 3, 'no new namespace or tree');
    assert.equal(idmapCache.counts.reused, reused + 2);
    assert.equal(statSync(join(dir, 'lower2', 'b')).uid, 0);
    for (const t of ['t1', 't2']) {
      const target = join(dir, t);
      assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'top');
      assert.equal(statSync(join(target, 'b')).uid, mapping.hostId, "root's file is the namespace root's");
      assert.equal(statSync(join(target, 'b')).gid, mapping.hostId);
    }
    // overlay keeps private clones of its lowers: dropping the views leaves both mounts whole
    idmapCache.clear();
    assert.equal(idmapCache.size, 0);
    for (const t of ['t1', 't2']) {
      assert.equal(readFileSync(join(dir, t, 'b'), 'utf8'), 'b');
      assert.equal(statSync(join(dir, t, 'a')).uid, mapping.hostId);
    }
    for (const t of targets) await unmount(join(dir, t));
  });

  it('never serves the tree of a lower removed and made again at the same path', async () => {
    await overlay(1);
    await unmount(join(dir, 't1'));
    const made = idmapCache.counts.made;
    // an image removed and pulled again: its layer dir is a new inode at the old path
    rmSync(join(dir, 'lower1'), { recursive: true });
    mkdirSync(join(dir, 'lower1'));
    writeFileSync(join(dir, 'lower1', 'a'), 'pulled again');
    writeFileSync(join(dir, 'lower1', 'new'), 'new');
    await overlay(2);
    try {
      assert.equal(readFileSync(join(dir, 't2', 'a'), 'utf8'), 'pulled again');
      assert.equal(readFileSync(join(dir, 't2', 'new'), 'utf8'), 'new');
      assert.equal(idmapCache.counts.made, made + 1, 'a new tree of lower1 alone');
      assert.equal(idmapCache.size, 3, 'the stale tree was closed, not kept beside the new one');
    } finally {
      await unmount(join(dir, 't2'));
    }
  });

  it('a lower that is gone is a MountError naming it, not a refusal, and nothing stale is served', async () => {
    const gone = join(dir, 'gone');
    mkdirSync(gone);
    await mountIdmappedOverlay([gone], join(dir, 'u1'), join(dir, 'w1'), join(dir, 't1'), mapping);
    await unmount(join(dir, 't1'));
    rmSync(gone, { recursive: true });
    await assert.rejects(
      mountIdmappedOverlay([gone], join(dir, 'u1'), join(dir, 'w1'), join(dir, 't1'), mapping),
      (err: unknown) => err instanceof MountError && !(err instanceof IdmapRefusedError) && /ENOENT/.test(err.message),
    );
    assert.equal(await isMountPoint(join(dir, 't1')), false);
  });

  it('evicts the least recently used views beyond its capacity and closes them, never one in use', () => {
    const dirs = ['lower1', 'lower2', 'u1'].map((d) => join(dir, d));
    const cache = new IdmapCache(2);
    const fds = openFds();
    for (const d of dirs) {
      const lease = cache.lease();
      lease.tree(d, mapping);
      lease.release();
    }
    assert.equal(cache.size, 2);
    assert.equal(openFds(), fds + 2, 'evicted fds are closed');

    // one mount holding more views than the cache keeps: none is closed under it
    const lease = cache.lease();
    const held = dirs.map((d) => lease.tree(d, mapping));
    assert.equal(cache.counts.made, 7, 'the three trees were made again (the namespace was kept)');
    for (const fd of held) assert.equal(fstatSync(fd).isDirectory(), true);
    lease.release();
    assert.equal(cache.size, 2);
    assert.equal(openFds(), fds + 2);

    cache.forgetMapping(mapping.hostId + 65536); // another range's: nothing of ours
    assert.equal(cache.size, 2);
    cache.forgetMapping(mapping.hostId);
    assert.equal(cache.size, 0);
    assert.equal(openFds(), fds, 'a forgotten mapping leaves no fd open');
  });

  it('closes a view forgotten while a mount holds it when that mount is done with it', () => {
    const cache = new IdmapCache();
    const fds = openFds();
    const lease = cache.lease();
    const fd = lease.tree(join(dir, 'lower2'), mapping);
    cache.forgetMapping(mapping.hostId);
    assert.equal(fstatSync(fd).isDirectory(), true, 'still open for its mount');
    lease.release();
    assert.equal(openFds(), fds);
  });
});
