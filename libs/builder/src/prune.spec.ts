import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withLock } from '@paas/content';
import { type RunMount, instructions, parse } from '@paas/dockerfile';
import { type Image, ImageService, imageRoots } from '@paas/images';
import type { ImageConfig } from '@paas/oci';
import { BuildCache } from './build-cache';
import { BuildContext } from './build-context';
import { builderRootOf } from './builder';
import { pruneBuildCache } from './prune';
import { CACHE_MOUNTS_DIR, PRUNE_LOCK, cacheMountDir, withRunMounts } from './run-mounts';

const base = mkdtempSync(join(tmpdir(), 'paas-prune-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

/** A pid that is certainly not alive: a child that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync('true');
  assert.ok(child.pid);
  return child.pid;
}

function cacheDirWith(builderRoot: string, id: string, files: Record<string, string>): string {
  const dir = cacheMountDir(builderRoot, 'app', id);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('builder prune: cache mounts', () => {
  let root = '';
  let images: ImageService;
  before(async () => {
    root = join(base, `root${n++}`);
    images = await ImageService.open(imageRoots(root));
  });

  it('removes the directories no live step marks or locks, with the marks and locks of dead ones', async () => {
    const builderRoot = builderRootOf(root);
    const dead = deadPid();
    const unused = cacheDirWith(builderRoot, 'unused', { blob: 'x'.repeat(64 * 1024) });
    const markedDead = cacheDirWith(builderRoot, 'marked-dead', { a: 'a' });
    writeFileSync(`${markedDead}.use.${dead}.00ff`, '');
    const marked = cacheDirWith(builderRoot, 'marked', { a: 'a' });
    writeFileSync(`${marked}.use.${process.pid}.00aa`, '');
    const locked = cacheDirWith(builderRoot, 'locked', { a: 'a' });
    writeFileSync(`${locked}.lock`, `${process.pid}\n`);
    const lockedDead = cacheDirWith(builderRoot, 'locked-dead', { a: 'a' });
    writeFileSync(`${lockedDead}.lock`, `${dead}\n`);
    mkdirSync(join(builderRoot, CACHE_MOUNTS_DIR, '.doomed-leftover', 'x'), { recursive: true });

    const result = await pruneBuildCache(root, images);

    const name = (dir: string): string => dir.slice(dir.lastIndexOf('/') + 1);
    assert.deepEqual(
      result.deleted.sort(),
      [unused, markedDead, lockedDead].map((d) => `cache-mount:${name(d)}`).sort(),
    );
    assert.ok(result.reclaimedBytes >= 64 * 1024, `reclaimed ${result.reclaimedBytes}`);
    assert.deepEqual(
      readdirSync(join(builderRoot, CACHE_MOUNTS_DIR)).sort(),
      [`${name(locked)}`, `${name(locked)}.lock`, `${name(marked)}`, `${name(marked)}.use.${process.pid}.00aa`].sort(),
    );
  });

  it('is nothing to do on a root that never built', async () => {
    const fresh = join(base, `root${n++}`);
    const result = await pruneBuildCache(fresh, await ImageService.open(imageRoots(fresh)));
    assert.deepEqual(result, { deleted: [], reclaimedBytes: 0 });
  });
});

describe('builder prune against running steps', () => {
  const parseMount = (flag: string): RunMount => {
    const [run] =
      instructions(parse(`FROM scratch\nRUN --mount=${flag} true\n`), { buildArgs: {} }).stages[0]?.instructions ?? [];
    assert.ok(run?.kind === 'run' && run.mounts[0]);
    return run.mounts[0];
  };
  const noStage = async (): Promise<string> => assert.fail('no bind expected');
  /** A fresh PAAS_ROOT and the mount context of a step of an app's build in it. */
  const stepRoot = async (): Promise<{ root: string; ctx: Parameters<typeof withRunMounts>[1] }> => {
    const root = join(base, `root${n++}`);
    mkdirSync(join(root, 'ctx'), { recursive: true });
    const context = await BuildContext.open(join(root, 'ctx'));
    return { root, ctx: { builderRoot: builderRootOf(root), scope: 'app', context, workdir: '/' } };
  };

  it('keeps the cache of a step that is running, and the step’s marks go with it', async () => {
    const { root, ctx } = await stepRoot();
    const images = await ImageService.open(imageRoots(root));
    let during: Awaited<ReturnType<typeof pruneBuildCache>> | undefined;
    await withRunMounts([parseMount('type=cache,target=/c,id=npm')], ctx, noStage, async ([mount]) => {
      assert.ok(mount?.source);
      writeFileSync(join(mount.source, 'in-use'), 'x');
      during = await pruneBuildCache(root, images);
      assert.ok(existsSync(join(mount.source, 'in-use')), 'the running step lost its cache');
    });
    assert.deepEqual(during?.deleted, []);
    const after = await pruneBuildCache(root, images);
    assert.deepEqual(after.deleted, [`cache-mount:${cacheMountDir(ctx.builderRoot, 'app', 'npm').split('/').pop()}`]);
    assert.deepEqual(readdirSync(join(ctx.builderRoot, CACHE_MOUNTS_DIR)), []);
  });

  it('makes a step that starts during a prune wait for it', async () => {
    const { ctx } = await stepRoot();
    mkdirSync(join(ctx.builderRoot, CACHE_MOUNTS_DIR), { recursive: true });
    const events: string[] = [];
    let step: Promise<void> | undefined;
    await withLock(join(ctx.builderRoot, CACHE_MOUNTS_DIR, PRUNE_LOCK), async () => {
      step = withRunMounts([parseMount('type=cache,target=/c')], ctx, noStage, async () => {
        events.push('step ran');
      });
      // the step has marked its directory and is waiting for the prune to end
      for (
        let i = 0;
        i < 50 && !readdirSync(join(ctx.builderRoot, CACHE_MOUNTS_DIR)).some((f) => f.includes('.use.'));
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 50));
      events.push('prune done');
    });
    await step;
    assert.deepEqual(events, ['prune done', 'step ran']);
  });
});

describe('builder prune: the step cache', () => {
  it('forgets entries whose image is gone; with all, every entry and the untagged images only they held', async () => {
    const root = join(base, `root${n++}`);
    const images = await ImageService.open(imageRoots(root));
    const commit = async (name: string | undefined, text: string): Promise<Image> => {
      const dir = join(base, `layer${n++}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'f'), text);
      const layer = await images.layerFromDirectory(dir, { fixedMtime: new Date(0) });
      const config: ImageConfig = {
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      };
      return images.commit(config, [layer.descriptor], name);
    };
    const cache = await BuildCache.open(builderRootOf(root));
    const step = await commit(undefined, 'step');
    const tagged = await commit('app:1', 'tagged');
    const gone = await commit(undefined, 'gone');
    const key = (c: string): string => c.repeat(64);
    await cache.put(key('a'), { manifest: step.manifestDigest, image: step.id });
    await cache.put(key('b'), { manifest: tagged.manifestDigest, image: tagged.id });
    await cache.put(key('c'), { manifest: gone.manifestDigest, image: gone.id });
    await images.remove(gone.id);
    await images.gc();

    const dangling = await pruneBuildCache(root, images);
    assert.deepEqual(dangling.deleted, [`step:${key('c')}`]);
    assert.ok(await cache.get(key('a')));

    const all = await pruneBuildCache(root, images, { all: true });
    assert.deepEqual(all.deleted.sort(), [`image:${step.id}`, `step:${key('a')}`, `step:${key('b')}`].sort());
    assert.ok(all.reclaimedBytes > 0);
    assert.deepEqual(await cache.entries(), []);
    assert.equal((await images.resolve('app:1')).id, tagged.id, 'a tagged image stays');
    await assert.rejects(images.resolve(step.id));
  });
});
