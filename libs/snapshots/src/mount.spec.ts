import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
