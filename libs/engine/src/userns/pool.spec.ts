import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { idmapCache } from '@paas/snapshots';
import {
  RANGE_SIZE,
  type SubordinateRange,
  UsernsError,
  UsernsPool,
  ensureSearchable,
  highestSystemId,
  parseUsernsMode,
  poolSettings,
  reserveSubordinate,
  subordinateAllocationMax,
  subordinateRanges,
} from './pool';

/** An entry as subordinateRanges reads it. */
const entry = (user: string, start: number, count: number, file = '/etc/subuid', line = 1): SubordinateRange => ({
  start,
  end: start + count,
  user,
  file,
  line,
  text: `${user}:${start}:${count}`,
});

describe('poolSettings', () => {
  it('by default starts at the first multiple of 65536 above 100000 and every subordinate range', () => {
    assert.equal(poolSettings(undefined, [], undefined, 0).start, 2 * RANGE_SIZE);
    // and above every host user and group
    assert.equal(poolSettings(undefined, [], [200_000, '/etc/passwd: u:x:200000:…'], 0).start, 4 * RANGE_SIZE);
    const taken = [entry('u', 100000, 10 * RANGE_SIZE)];
    const { start, count } = poolSettings('', taken, undefined, 0);
    assert.equal(start, 12 * RANGE_SIZE);
    // the pool's own reservation does not move it
    assert.equal(
      poolSettings('', [...taken, entry('paas', start, count, '/etc/subgid', 2)], undefined, 0).start,
      start,
    );
    assert.equal(count % RANGE_SIZE, 0);
    assert.ok(start + count - 1 <= 2 ** 32 - 2);
  });

  it('by default starts above the subordinate ids useradd hands out (login.defs), so a new user still gets some', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-userns-defs-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const defs = join(dir, 'login.defs');
    writeFileSync(defs, '# shadow\nSUB_UID_MIN\t\t   100000\nSUB_UID_MAX\t\t600100000\nSUB_GID_MAX 700000000\n');
    assert.equal(subordinateAllocationMax(defs), 700_000_000);
    writeFileSync(defs, '#SUB_UID_MAX 5\n');
    assert.equal(subordinateAllocationMax(defs), 600_100_000, "shadow's default where it says nothing");
    assert.equal(subordinateAllocationMax(join(dir, 'none')), 600_100_000);
    const { start, count } = poolSettings(undefined, [], undefined, 600_100_000);
    assert.equal(start, Math.ceil(600_100_001 / RANGE_SIZE) * RANGE_SIZE);
    assert.equal(count, 16384 * RANGE_SIZE);
    assert.ok(start + count - 1 <= 2 ** 32 - 2);
  });

  it('takes START:COUNT and refuses a malformed or overlapping one, naming the setting', () => {
    assert.deepEqual(poolSettings(`1048576:${2 * RANGE_SIZE}`, [], undefined), {
      start: 1048576,
      count: 2 * RANGE_SIZE,
    });
    for (const [value, why] of [
      ['100000', /expected START:COUNT/],
      ['a:b', /expected START:COUNT/],
      ['0:65536', /START must be above 0/],
      ['100000:1000', /COUNT must be a multiple of 65536/],
      ['4294901760:131072', /ends above 4294967294/],
    ] as const) {
      assert.throws(
        () => poolSettings(value, [], undefined),
        (err: unknown) =>
          err instanceof UsernsError &&
          err.message.startsWith(`invalid PAAS_USERNS_POOL "${value}": `) &&
          why.test(err.message),
        value,
      );
    }
    assert.throws(
      () => poolSettings('100000:65536', [entry('g', 165535, 1, '/etc/subgid', 3)], undefined),
      (err: unknown) =>
        err instanceof UsernsError &&
        err.message ===
          'invalid PAAS_USERNS_POOL "100000:65536": it overlaps /etc/subgid line 3 ("g:165535:1"): ' +
            "ids 165535..165535 are user g's",
    );
    // its own reservation (of this pool or an earlier one) is no clash
    assert.deepEqual(poolSettings('100000:65536', [entry('paas', 100000, 65536)], undefined), {
      start: 100000,
      count: 65536,
    });
  });

  it("refuses a pool starting at or below a host user's or group's id, naming the setting and the line", () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-userns-ids-'));
    try {
      writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
      writeFileSync(join(dir, 'group'), 'root:x:0:\nbig:x:70000:\nnfsnobody:x:4294967294:\n\n');
      const system = highestSystemId([join(dir, 'passwd'), join(dir, 'group'), join(dir, 'missing')]);
      assert.deepEqual(system, [70000, `${join(dir, 'group')}: big:x:70000:`]);
      assert.throws(
        () => poolSettings('1:65536', [], system),
        (err: unknown) =>
          err instanceof UsernsError &&
          err.message ===
            'invalid PAAS_USERNS_POOL "1:65536": START must be above 70000, the highest id of a host ' +
              `user or group (${join(dir, 'group')}: big:x:70000:)`,
      );
      assert.throws(() => poolSettings('70000:65536', [], system), /START must be above 70000/);
      assert.deepEqual(poolSettings('70001:65536', [], system), { start: 70001, count: 65536 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses --userns', () => {
    assert.equal(parseUsernsMode('auto'), 'auto');
    assert.equal(parseUsernsMode('host'), 'host');
    assert.throws(() => parseUsernsMode('keep-id'), /invalid --userns "keep-id": use "auto" or "host"/);
  });
});

describe('UsernsPool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-userns-pool-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const start = 10 * RANGE_SIZE;
  // never the host's /etc/subuid: acquire reserves the pool there
  const subids = { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') };

  it('gives disjoint ranges to different keys, one range to one key, and frees it with its last holder', async () => {
    const pool = new UsernsPool(join(dir, 'a'), () => ({ start, count: 2 * RANGE_SIZE }), undefined, subids);
    const app1 = await pool.acquire('app1', 'c1');
    const again = await pool.acquire('app1', 'c2');
    const app2 = await pool.acquire('app2', 'c3');
    assert.deepEqual(app1, { key: 'app1', hostId: start, size: RANGE_SIZE });
    assert.equal(again.hostId, start);
    assert.equal(app2.hostId, start + RANGE_SIZE);
    await assert.rejects(
      pool.acquire('app3', 'c4'),
      /user namespace pool exhausted: all 2 ranges of PAAS_USERNS_POOL=655360:131072 are in use/,
    );
    await pool.release('c1');
    assert.equal((await pool.list()).length, 2); // c2 still holds app1's
    await pool.release('c2');
    assert.deepEqual(
      (await pool.list()).map((r) => r.key),
      ['app2'],
    );
    assert.equal((await pool.acquire('app3', 'c4')).hostId, start);
  });

  it("drops this process's idmapped views of a range when its last holder releases it", async () => {
    const pool = new UsernsPool(join(dir, 'views'), () => ({ start, count: 2 * RANGE_SIZE }), undefined, subids);
    const app1 = await pool.acquire('app1', 'c1');
    await pool.acquire('app1', 'c2');
    const app2 = await pool.acquire('app2', 'c3');
    const layer = join(dir, 'layer');
    mkdirSync(layer, { recursive: true });
    idmapCache.clear();
    for (const range of [app1, app2]) {
      const lease = idmapCache.lease();
      lease.tree(layer, range);
      lease.release();
    }
    assert.equal(idmapCache.size, 4); // a namespace and a tree a range
    try {
      await pool.release('c1');
      assert.equal(idmapCache.size, 4, 'c2 still holds app1: its views stay');
      await pool.release('c2');
      assert.equal(idmapCache.size, 2, "app1's views are gone, app2's stay");
      const reused = idmapCache.counts.reused;
      const lease = idmapCache.lease();
      lease.tree(layer, app2);
      lease.release();
      assert.equal(idmapCache.counts.reused, reused + 1);
    } finally {
      idmapCache.clear();
    }
  });

  it('hands out each range once to callers racing in one process', async () => {
    const pool = new UsernsPool(join(dir, 'b'), () => ({ start, count: 8 * RANGE_SIZE }), undefined, subids);
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.acquire(`k${i}`, `c${i}`)));
    assert.equal(new Set(got.map((r) => r.hostId)).size, 8);
  });

  it('never hands out a range overlapping one taken under an earlier pool setting', async () => {
    const root = join(dir, 'd');
    const old = new UsernsPool(root, () => ({ start: start + 100, count: RANGE_SIZE }), undefined, subids);
    assert.equal((await old.acquire('app1', 'c1')).hostId, start + 100);
    // a new setting whose grid is off by 100: its first range would overlap app1's
    const changed = new UsernsPool(root, () => ({ start, count: 3 * RANGE_SIZE }), undefined, subids);
    assert.equal((await changed.acquire('app2', 'c2')).hostId, start + 2 * RANGE_SIZE);
    await assert.rejects(changed.acquire('app3', 'c3'), /pool exhausted/);
  });

  it("drops, on acquire, the holds of containers that no longer exist, but not a fresh one's", async () => {
    const root = join(dir, 'e');
    mkdirSync(root, { recursive: true });
    // a crash left c-gone holding app1's range (a hold from before times were kept)
    writeFileSync(join(root, 'ranges.json'), JSON.stringify({ ranges: [{ key: 'app1', start, holders: ['c-gone'] }] }));
    const live = new Set<string>();
    const pool = new UsernsPool(
      root,
      () => ({ start, count: RANGE_SIZE }),
      async () => live,
      subids,
    );
    // c-new is acquiring for a container not recorded yet: its hold must survive the next acquire
    assert.equal((await pool.acquire('app2', 'c-new')).hostId, start);
    assert.deepEqual(
      (await pool.list()).map((r) => [r.key, r.holders]),
      [['app2', ['c-new']]],
    );
    await assert.rejects(pool.acquire('app3', 'c-other'), /pool exhausted/);
    assert.deepEqual(
      (await pool.list()).map((r) => r.holders),
      [['c-new']],
    );
  });

  it('applies releases that wait for the lock together: one write, every hold given back', async () => {
    const root = join(dir, 'batch');
    const pool = new UsernsPool(root, () => ({ start, count: 2 * RANGE_SIZE }), undefined, subids);
    const holders = Array.from({ length: 50 }, (_, i) => `c${i}`);
    for (const h of holders) await pool.acquire('app1', h);
    await pool.acquire('app2', 'other');
    // every write renames a new file onto ranges.json
    let writes = 0;
    const watcher = watch(root, (_, name) => {
      if (name === 'ranges.json') writes++;
    });
    try {
      // all 50 come before the first takes the lock: one batch, one write
      await Promise.all(holders.map((h) => pool.release(h)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      watcher.close();
    }
    assert.equal(writes, 1);
    assert.deepEqual(
      (await pool.list()).map((r) => [r.key, r.holders]),
      [['app2', ['other']]],
    );
    // a release that comes while a batch holds the lock goes into the next one, and is applied
    const h1 = await pool.acquire('app1', 'late1');
    assert.equal(h1.hostId, start, "app1's range was free again: the lowest one");
    await Promise.all([pool.release('other'), pool.acquire('app1', 'late2').then(() => pool.release('late1'))]);
    assert.deepEqual(
      (await pool.list()).map((r) => [r.key, r.holders, Object.keys(r.since ?? {})]),
      [['app1', ['late2'], ['late2']]],
    );
  });

  it("batches releases per process: another process's changes in between are kept", async () => {
    const root = join(dir, 'two');
    const one = new UsernsPool(root, () => ({ start, count: 3 * RANGE_SIZE }), undefined, subids);
    const two = new UsernsPool(root, () => ({ start, count: 3 * RANGE_SIZE }), undefined, subids);
    await one.acquire('app1', 'c1');
    await two.acquire('app2', 'c2');
    assert.equal((await one.acquire('app3', 'c3')).hostId, start + 2 * RANGE_SIZE);
    await two.release('c1');
    await one.release('c3');
    assert.deepEqual(
      (await two.list()).map((r) => [r.key, r.holders]),
      [['app2', ['c2']]],
    );
  });

  it('releases without reading the pool setting (a bad one must not keep rm from working)', async () => {
    const pool = new UsernsPool(
      join(dir, 'c'),
      () => {
        throw new UsernsError('bad setting');
      },
      undefined,
      subids,
    );
    await pool.release('nobody');
    await assert.rejects(pool.acquire('k', 'c'), /bad setting/);
  });

  it('reserves its pool in both subid files before the first range, once, beside the entries there', async () => {
    const files = { subuid: join(dir, 'r-subuid'), subgid: join(dir, 'r-subgid') };
    writeFileSync(files.subuid, 'alice:100000:65536'); // no final newline
    chmodSync(files.subuid, 0o640);
    const pool = new UsernsPool(join(dir, 'r'), () => ({ start, count: 2 * RANGE_SIZE }), undefined, files);
    await pool.acquire('app1', 'c1');
    await pool.acquire('app2', 'c2');
    // another process, the same pool: the entry is there already
    await reserveSubordinate({ start, count: 2 * RANGE_SIZE }, files);
    assert.equal(readFileSync(files.subuid, 'utf8'), `alice:100000:65536\npaas:${start}:${2 * RANGE_SIZE}\n`);
    assert.equal(readFileSync(files.subgid, 'utf8'), `paas:${start}:${2 * RANGE_SIZE}\n`);
    assert.equal(statSync(files.subuid).mode & 0o777, 0o640);
    assert.deepEqual(
      subordinateRanges(files).map((r) => [r.file, r.line, r.user, r.start, r.end]),
      [
        [files.subuid, 1, 'alice', 100000, 165536],
        [files.subuid, 2, 'paas', start, start + 2 * RANGE_SIZE],
        [files.subgid, 1, 'paas', start, start + 2 * RANGE_SIZE],
      ],
    );
    // a changed pool is added: the earlier one's ranges may still be held
    await reserveSubordinate({ start: 2 * start, count: RANGE_SIZE }, files);
    assert.match(
      readFileSync(files.subgid, 'utf8'),
      new RegExp(`^paas:${start}:\\d+\npaas:${2 * start}:${RANGE_SIZE}\n$`),
    );
  });

  it("refuses under the test runner to reserve in the host's files, and refuses a pool a user got ids of meanwhile", async () => {
    assert.ok(process.env['NODE_TEST_CONTEXT'], 'run by node --test');
    const before = [readFileSync('/etc/subuid', 'utf8'), readFileSync('/etc/subgid', 'utf8')];
    await assert.rejects(
      reserveSubordinate({ start, count: RANGE_SIZE }),
      /a test would reserve paas:\d+:65536 in the host's \/etc\/subuid: give it its own files/,
    );
    assert.deepEqual([readFileSync('/etc/subuid', 'utf8'), readFileSync('/etc/subgid', 'utf8')], before);
    // the pool was chosen, then useradd gave bob ids inside it: the reservation re-reads under the lock
    const files = { subuid: join(dir, 'm-subuid'), subgid: join(dir, 'm-subgid') };
    writeFileSync(files.subuid, `bob:${start + RANGE_SIZE}:65536\n`);
    await assert.rejects(
      reserveSubordinate({ start, count: 2 * RANGE_SIZE }, files),
      new RegExp(`in ${files.subuid}: the pool overlaps ${files.subuid} line 1 .*user bob's`),
    );
    assert.equal(readFileSync(files.subuid, 'utf8'), `bob:${start + RANGE_SIZE}:65536\n`);
  });

  it('hands out nothing when the pool cannot be reserved, naming the file', async () => {
    writeFileSync(join(dir, 'not-a-dir'), '');
    const files = { subuid: join(dir, 'not-a-dir', 'subuid'), subgid: join(dir, 'subgid-x') };
    const pool = new UsernsPool(join(dir, 'f'), () => ({ start, count: RANGE_SIZE }), undefined, files);
    await assert.rejects(
      pool.acquire('app1', 'c1'),
      (err: unknown) =>
        err instanceof UsernsError &&
        err.message.startsWith(
          `cannot reserve the user namespace pool (paas:${start}:${RANGE_SIZE}) in ${files.subuid}: `,
        ),
    );
    assert.deepEqual(await pool.list(), []);
  });
});

describe('ensureSearchable', () => {
  it("adds o+x inside the engine's roots, says so once a directory, and refuses a closed parent elsewhere", async () => {
    const base = mkdtempSync(join(tmpdir(), 'paas-searchable-'));
    try {
      chmodSync(base, 0o755);
      const root = join(base, 'root');
      const bundle = join(root, 'containers', 'c1');
      mkdirSync(bundle, { recursive: true });
      chmodSync(root, 0o700); // the operator's
      const said: string[] = [];
      await ensureSearchable(bundle, [root], (m) => said.push(m));
      assert.equal(statSync(root).mode & 0o777, 0o701);
      assert.deepEqual(said, [
        `--userns=auto: made ${root} searchable by others (mode 700 -> 701): ` +
          "a container's root in a user namespace must reach its bundle under it",
      ]);
      // closed again: opened again, not said again
      chmodSync(root, 0o700);
      await ensureSearchable(bundle, [root], (m) => said.push(m));
      assert.equal(statSync(root).mode & 0o777, 0o701);
      assert.equal(said.length, 1);
      chmodSync(base, 0o700);
      await assert.rejects(
        ensureSearchable(bundle, [root], (m) => said.push(m)),
        new RegExp(`${base} is not searchable by others \\(chmod o\\+x ${base}\\)`),
      );
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
