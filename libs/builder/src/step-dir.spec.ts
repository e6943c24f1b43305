/**
 * removeAbandoned with real mounts and the engine's range pool: what a dead builder left (its
 * step's container, its hold on a range, its mounts, its dir) goes, in that order, and only
 * as far as is safe: a container that will not die keeps its range and dir, and the dir is
 * never removed through a mount (a cache view would lose the app's cache).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RANGE_SIZE, UsernsPool } from '@paas/engine';
import { mountPointsBelow, unmount } from '@paas/snapshots';
import { removeAbandoned } from './step-dir';

const base = mkdtempSync(join(tmpdir(), 'paas-step-dir-'));
// its own subid files: the pool reserves itself there, never in the host's
const pool = new UsernsPool(join(base, 'userns'), () => ({ start: 1_600_000_000, count: RANGE_SIZE }), undefined, {
  subuid: join(base, 'subuid'),
  subgid: join(base, 'subgid'),
});

after(async () => {
  const mounts = await mountPointsBelow(base);
  for (const target of mounts) await unmount(target).catch(() => undefined);
  assert.deepEqual(await mountPointsBelow(base), [], 'mounts that would not go');
  rmSync(base, { recursive: true, force: true });
  assert.deepEqual(mounts, [], 'mounts left');
});

/** A pid no process has any more. */
function deadPid(): number {
  const { pid } = spawnSync('true');
  assert.ok(pid);
  return pid;
}

let made = 0;
/** A step dir of a dead builder in a tmp root of its own, with its container's id. */
function abandoned(): { tmp: string; dir: string; id: string } {
  const tmp = join(base, `tmp${made++}`);
  const hex = (made * 7919).toString(16).padStart(12, '0');
  const dir = join(tmp, `${deadPid()}-${hex}`);
  mkdirSync(join(dir, 'views'), { recursive: true });
  return { tmp, dir, id: `build-${hex}` };
}

describe('removeAbandoned', () => {
  it('unmounts a view whose path the mount table escapes before removing the dir', async () => {
    const cache = join(base, 'cache');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'kept'), 'the app cache\n');
    const { tmp, dir } = abandoned();
    // a space is \040 in mountinfo: taken as is, the path was "not a mount", the view stayed
    // and the rm met it (EBUSY: the builder could not open)
    const view = join(dir, 'views', 'a b');
    mkdirSync(view);
    execFileSync('mount', ['--bind', cache, view]);
    await removeAbandoned(tmp, { killContainer: async () => true, warn: () => undefined });
    assert.equal(readFileSync(join(cache, 'kept'), 'utf8'), 'the app cache\n');
    assert.deepEqual(await mountPointsBelow(tmp), []);
    assert.equal(existsSync(dir), false);
  });

  it('keeps the dir, and says so, while a mount below it will not go; a later pass removes it', async () => {
    const cache = join(base, 'cache2');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'kept'), 'the app cache\n');
    const { tmp, dir } = abandoned();
    // a view hidden under a later mount on its parent: by its path it cannot be reached to
    // be unmounted until that one is gone
    mkdirSync(join(dir, 'views', 'v'), { recursive: true });
    execFileSync('mount', ['--bind', cache, join(dir, 'views', 'v')]);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(dir, 'views')]);
    const warnings: string[] = [];
    await removeAbandoned(tmp, { killContainer: async () => true, warn: (message) => warnings.push(message) });
    assert.match(warnings.join('\n'), /still mounted \(.*views\/v\): not removed/);
    assert.equal(existsSync(dir), true);
    assert.equal(readFileSync(join(cache, 'kept'), 'utf8'), 'the app cache\n');
    await removeAbandoned(tmp, { killContainer: async () => true, warn: (message) => warnings.push(message) });
    assert.equal(existsSync(dir), false);
    assert.deepEqual(await mountPointsBelow(tmp), []);
    assert.equal(readFileSync(join(cache, 'kept'), 'utf8'), 'the app cache\n');
  });

  it("gives a step's range back only once its container is dead; one that will not die keeps it and its dir", async () => {
    const { tmp, dir, id } = abandoned();
    await pool.acquire('app-a', id);
    const warnings: string[] = [];
    const order: string[] = [];
    await removeAbandoned(tmp, {
      killContainer: async (killed) => (order.push(`kill ${killed}`), false),
      release: async (holder) => void order.push(`release ${holder}`),
      warn: (message) => warnings.push(message),
    });
    assert.deepEqual(order, [`kill ${id}`]);
    assert.deepEqual(
      (await pool.list()).map((r) => r.holders),
      [[id]],
    );
    assert.equal(existsSync(dir), true);
    assert.match(warnings.join('\n'), /would not die; its range and .* are kept/);

    await removeAbandoned(tmp, {
      killContainer: async () => true,
      release: (holder) => pool.release(holder),
      warn: (message) => warnings.push(message),
    });
    assert.deepEqual(await pool.list(), []);
    assert.equal(existsSync(dir), false);
  });
});
