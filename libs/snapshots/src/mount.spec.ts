import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  IdmapRefusedError,
  MountError,
  isMountPoint,
  mount,
  mountIdmappedBind,
  mountIdmappedOverlay,
  overlayMount,
  readonlyOverlayMount,
  unmount,
  withMounted,
} from './mount';
import { idmapCache } from './idmap-cache';

describe('mounts', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-mount-'));
    for (const d of ['lower1', 'lower2', 'upper', 'work', 'target']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'lower1', 'a'), 'top');
    writeFileSync(join(dir, 'lower2', 'a'), 'bottom');
    writeFileSync(join(dir, 'lower2', 'b'), 'b');
  });
  after(async () => {
    await unmount(join(dir, 'target'));
    idmapCache.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stacks lower dirs top first, writes go to the upper dir, and always unmounts', async () => {
    const target = join(dir, 'target');
    const spec = overlayMount([join(dir, 'lower1'), join(dir, 'lower2')], join(dir, 'upper'), join(dir, 'work'));
    await withMounted(spec, target, async () => {
      assert.equal(await isMountPoint(target), true);
      assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'top');
      assert.equal(readFileSync(join(target, 'b'), 'utf8'), 'b');
      writeFileSync(join(target, 'c'), 'new');
    });
    assert.equal(await isMountPoint(target), false);
    assert.equal(readFileSync(join(dir, 'upper', 'c'), 'utf8'), 'new');
    await assert.rejects(
      withMounted(spec, target, async () => {
        throw new Error('inside');
      }),
      /inside/,
    );
    assert.equal(await isMountPoint(target), false);
  });

  it('mounts a single layer read-only', async () => {
    const target = join(dir, 'target');
    await withMounted(readonlyOverlayMount([join(dir, 'lower2')]), target, async () => {
      assert.equal(readFileSync(join(target, 'b'), 'utf8'), 'b');
      assert.throws(() => writeFileSync(join(target, 'x'), 'x'), /EROFS/);
    });
  });

  it('reports a failed mount with the target and the reason, and leaves nothing mounted', async () => {
    const target = join(dir, 'target');
    await assert.rejects(
      mount(overlayMount([join(dir, 'missing')], join(dir, 'upper'), join(dir, 'work')), target),
      (err: unknown) => err instanceof MountError && err.message.startsWith(`mount ${target}: ENOENT`),
    );
    assert.equal(await isMountPoint(target), false);
    await unmount(target); // not mounted: fine
  });

  it('an idmapped upper keeps the namespace ids on disk: root inside writes 0, 1000 inside writes 1000', async () => {
    const target = join(dir, 'target');
    const step = join(dir, 'step');
    for (const d of ['upper', 'work']) mkdirSync(join(step, d), { recursive: true });
    chmodSync(dir, 0o711); // the writers below are unprivileged host ids
    const mapping = { hostId: 1_500_000_000, size: 65536 };
    idmapCache.clear();
    const as = (id: number, script: string): void => {
      const r = spawnSync('sh', ['-c', script], { cwd: target, uid: id, gid: id, encoding: 'utf8' });
      assert.equal(r.status, 0, `${script} as ${id}: ${r.stderr}`);
    };
    await mountIdmappedOverlay(
      [join(dir, 'lower1'), join(dir, 'lower2')],
      join(step, 'upper'),
      join(step, 'work'),
      target,
      mapping,
      {
        idmappedUpper: true,
      },
    );
    try {
      // the lowers' trees and the two namespaces: never the step's upper, which it writes to
      assert.equal(idmapCache.size, 4);
      assert.equal(statSync(join(target, 'a')).uid, mapping.hostId, "the image is the namespace root's");
      as(mapping.hostId, 'echo more >> a && mkdir d && touch d/f && rm b');
      as(mapping.hostId, 'chmod 777 d');
      as(mapping.hostId + 1000, 'touch d/mine');
    } finally {
      await unmount(target);
    }
    const upper = join(step, 'upper');
    assert.deepEqual(
      ['a', 'd', 'd/f', 'd/mine'].map((f) => [f, statSync(join(upper, f)).uid, statSync(join(upper, f)).gid]),
      [
        ['a', 0, 0],
        ['d', 0, 0],
        ['d/f', 0, 0],
        ['d/mine', 1000, 1000],
      ],
    );
    assert.equal(statSync(join(upper, 'b')).isCharacterDevice(), true, 'b is whited out');
  });

  it('an idmapped upper needs its work dir beside it', async () => {
    const target = join(dir, 'target');
    await assert.rejects(
      mountIdmappedOverlay(
        [join(dir, 'lower1')],
        join(dir, 'upper'),
        join(dir, 'step', 'work'),
        target,
        { hostId: 1_500_000_000, size: 65536 },
        { idmappedUpper: true },
      ),
      (err: unknown) => err instanceof MountError && /needs its work dir beside it/.test(err.message),
    );
    assert.equal(await isMountPoint(target), false);
  });

  it('refuses an id mapping of host root, -1 or past 2^32-2 before anything is made, not as a refusal to idmap', async () => {
    const target = join(dir, 'target');
    for (const mapping of [
      { hostId: 0, size: 65536 },
      { hostId: -1, size: 65536 },
      { hostId: 4294901760, size: 65536 },
      { hostId: 100000, size: 0 },
    ]) {
      const bad = (err: unknown): boolean =>
        err instanceof MountError &&
        !(err instanceof IdmapRefusedError) && // that would fall back to a chowned copy
        err.message.startsWith(`mount ${target}: invalid id mapping ${mapping.hostId}:${mapping.size}: `);
      await assert.rejects(mountIdmappedBind(join(dir, 'lower1'), target, mapping), bad);
      await assert.rejects(
        mountIdmappedOverlay([join(dir, 'lower1')], join(dir, 'upper'), join(dir, 'work'), target, mapping),
        bad,
      );
      assert.equal(await isMountPoint(target), false);
    }
  });
});
