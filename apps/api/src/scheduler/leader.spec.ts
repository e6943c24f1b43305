/**
 * The scheduler's leader election against real databases. Advisory locks belong to a
 * connection, so two DataSources in one process contend as two api processes would.
 */
import { Node, openDatabase } from '@paas/platform';
import { testDatabase } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { waitFor } from '../testing/wait';
import { LeaderElector, NotLeaderError } from './leader';
import { SchedulingStore } from './scheduling-store';

const quiet = { log: () => undefined, warn: () => undefined };

async function insertNode(ds: DataSource, name: string): Promise<Node> {
  const node = ds.manager.create(Node, {
    id: randomUUID(),
    name,
    address: '10.0.0.1',
    memory: 4096,
    cpus: 4000,
    state: 'up',
    lastHeartbeatAt: new Date().toISOString(),
  });
  await ds.manager.insert(Node, node);
  return node;
}

describe('scheduler leader on postgres', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const clean of cleanups.reverse()) await clean().catch(() => undefined);
  });

  /** Two api processes' worth: each its own DataSource (pool) and elector. */
  async function replicas(): Promise<{ a: LeaderElector; b: LeaderElector; ds: [DataSource, DataSource] }> {
    const db = await testDatabase('postgres');
    cleanups.push(() => db.dispose());
    const open = async (): Promise<DataSource> => {
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      cleanups.push(() => ds.destroy());
      return ds;
    };
    const [dsA, dsB] = [await open(), await open()];
    const a = new LeaderElector(dsA, { holder: 'api-a', address: () => '127.0.0.1:1', retryMs: 100 }, quiet);
    const b = new LeaderElector(dsB, { holder: 'api-b', address: () => '127.0.0.1:2', retryMs: 100 }, quiet);
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    await Promise.all([a.start(), b.start()]);
    return { a, b, ds: [dsA, dsB] };
  }

  it('exactly one of two replicas leads, and the row says which', async () => {
    const { a, b, ds } = await replicas();
    await waitFor(async () => a.leading || b.leading, 'a leader');
    // several rounds of retries later, still one
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(Number(a.leading) + Number(b.leading), 1);
    const leader = a.leading ? a : b;
    const row = await LeaderElector.current(ds[0]);
    assert.equal(row?.holder, a.leading ? 'api-a' : 'api-b');
    assert.equal(row?.epoch, leader.epoch);
  });

  it("a new term begins when the leader's session dies; the old term's writes are refused and change nothing", async () => {
    const { a, b, ds } = await replicas();
    await waitFor(async () => a.leading || b.leading, 'a leader');
    const old = a.leading ? a : b;
    const [oldDs, nextDs] = a.leading ? ds : [ds[1], ds[0]];
    const oldTerm = old.epoch as number;
    // what the old leader's pass holds: a store fenced by its term
    const oldStore = new SchedulingStore(oldDs, old.fence(oldTerm));
    const node = await insertNode(nextDs, 'n1');
    // the old leader's process dies: the server closes its lock session
    const killed = await nextDs.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 1 AND classid = ${0x70616173}
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    assert.equal(killed.length, 1, 'one session holds the lock');
    // a new term: most often the follower's, but the old process, which lost office with its
    // session, campaigns again too and may win the race for the lock; either way the old term ends
    const newTerm = async () => [a, b].find((e) => e.leading && (e.epoch as number) > oldTerm);
    await waitFor(async () => (await newTerm()) !== undefined, 'a new term');
    const leader = (await newTerm()) as LeaderElector;
    assert.equal(Number(a.leading) + Number(b.leading), 1, 'one leader');
    // a write of the old term, as from a leader paused across the takeover
    await assert.rejects(oldStore.markDown([node.id], []), NotLeaderError);
    assert.equal((await nextDs.manager.findOneByOrFail(Node, { id: node.id })).state, 'up');
    // the new term's writes land
    const nextStore = new SchedulingStore(leader === a ? ds[0] : ds[1], leader.fence(leader.epoch as number));
    await nextStore.markDown([node.id], []);
    assert.equal((await nextDs.manager.findOneByOrFail(Node, { id: node.id })).state, 'down');
    assert.equal((await LeaderElector.current(oldDs))?.epoch, leader.epoch);
  });

  it('a leader silent past its lease loses the lock to the other', async () => {
    const db = await testDatabase('postgres');
    cleanups.push(() => db.dispose());
    const [dsA, dsB] = [
      await openDatabase({ url: db.url, platformDir: '/nonexistent' }),
      await openDatabase({ url: db.url, platformDir: '/nonexistent' }),
    ];
    cleanups.push(
      () => dsA.destroy(),
      () => dsB.destroy(),
    );
    // A never pings its lock session (as when stuck): the server ends it after the lease
    const a = new LeaderElector(dsA, { holder: 'api-a', address: () => '', retryMs: 600_000, leaseMs: 300 }, quiet);
    const b = new LeaderElector(dsB, { holder: 'api-b', address: () => '', retryMs: 100 }, quiet);
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    await a.start();
    assert.equal(a.leading, true);
    await b.start();
    assert.equal(b.leading, false);
    await waitFor(async () => b.leading, 'B takes office once A is silent past its lease');
    assert.equal((await LeaderElector.current(dsB))?.holder, 'api-b');
  });

  it('a leader that leaves hands over at once', async () => {
    const { a, b } = await replicas();
    await waitFor(async () => a.leading || b.leading, 'a leader');
    const [old, next] = a.leading ? [a, b] : [b, a];
    await old.stop();
    await waitFor(async () => next.leading, 'the other takes office');
    assert.equal(old.leading, false);
  });
});

describe('scheduler leader on sqlite', () => {
  it('the one process takes office at start, through the same epoch row', async () => {
    const db = await testDatabase('sqlite');
    const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
    const first = new LeaderElector(ds, { holder: 'api-1', address: () => '127.0.0.1:1' }, quiet);
    const second = new LeaderElector(ds, { holder: 'api-2', address: () => '127.0.0.1:2' }, quiet);
    try {
      await first.start();
      assert.equal(first.leading, true);
      const node = await insertNode(ds, 'n1');
      const firstStore = new SchedulingStore(ds, first.fence(first.epoch as number));
      // a second process on the file is not supported; if one starts anyway, its term fences the first's out
      await second.start();
      await assert.rejects(firstStore.markDown([node.id], []), NotLeaderError);
      assert.equal((await ds.manager.findOneByOrFail(Node, { id: node.id })).state, 'up');
      assert.equal(first.leading, false);
      assert.equal((await LeaderElector.current(ds))?.holder, 'api-2');
    } finally {
      await first.stop();
      await second.stop();
      await ds.destroy();
      await db.dispose();
    }
  });
});
