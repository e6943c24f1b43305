import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Lease, LeaseState } from './ipam';
import { LeaseStore } from './lease-store';

const lease = (id: string, ip: string): Lease => ({
  id,
  name: id,
  hostname: id,
  ip,
  ports: [],
  pid: process.pid,
  since: new Date(0).toISOString(),
});

describe('LeaseStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-leases-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sees what another process committed, though it keeps its own copy of the file', async () => {
    // two stores on one directory stand for two processes (each caches what it read)
    const a = new LeaseStore(dir);
    const b = new LeaseStore(dir);
    await a.transaction(async (state) => void (state.leases['one'] = lease('one', '10.0.0.2')));
    assert.deepEqual(Object.keys(await b.read()), ['version', 'leases']);
    assert.deepEqual(Object.keys((await b.read()).leases), ['one']);
    await b.transaction(async (state) => void (state.leases['two'] = lease('two', '10.0.0.3')));
    // a's cached table is stale now: its next transaction must start from b's
    await a.transaction(async (state) => void (state.leases['three'] = lease('three', '10.0.0.4')));
    assert.deepEqual(Object.keys((await b.read()).leases).sort(), ['one', 'three', 'two']);
    assert.deepEqual(Object.keys((await a.read()).leases).sort(), ['one', 'three', 'two']);
  });

  it('commits a lease replaced, one removed and the allocation marks, and writes nothing when nothing changed', async () => {
    const own = mkdtempSync(join(tmpdir(), 'paas-leases-change-'));
    try {
      const store = new LeaseStore(own);
      const fresh = (): Promise<LeaseState> => new LeaseStore(own).read();
      await store.transaction(async (state) => {
        state.leases['one'] = lease('one', '10.0.0.2');
        state.leases['two'] = lease('two', '10.0.0.3');
      });
      const inode = statSync(store.file).ino;
      await store.transaction(async (state) => void state.leases['one']);
      assert.equal(statSync(store.file).ino, inode, 'an unchanged state is not written again');

      await store.transaction(async (state) => {
        state.leases['one'] = { ...(state.leases['one'] as Lease), name: 'renamed' };
      });
      assert.equal((await fresh()).leases['one']?.name, 'renamed');
      await store.transaction(async (state) => void Reflect.deleteProperty(state.leases, 'two'));
      assert.deepEqual(Object.keys((await fresh()).leases), ['one']);
      await store.transaction(async (state) => {
        state.lastIp = '10.0.0.9';
        state.lastPort = 40000;
      });
      assert.equal((await fresh()).lastIp, '10.0.0.9');
      assert.equal((await fresh()).lastPort, 40000);
      // a commit mid-way, then a change after it: both land
      await store.transaction(async (state, commit) => {
        state.leases['three'] = lease('three', '10.0.0.4');
        await commit();
        assert.ok((await fresh()).leases['three'], 'on disk before the transaction ends');
        state.leases['four'] = lease('four', '10.0.0.5');
      });
      assert.deepEqual(Object.keys((await fresh()).leases).sort(), ['four', 'one', 'three']);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('keeps the file readable by its owner alone, also one an older version wrote 0644', async () => {
    const own = mkdtempSync(join(tmpdir(), 'paas-leases-mode-'));
    try {
      const store = new LeaseStore(own);
      await store.transaction(async (state) => void (state.leases['one'] = lease('one', '10.0.0.2')));
      assert.equal(statSync(store.file).mode & 0o777, 0o600);
      chmodSync(store.file, 0o644);
      await store.transaction(async (state) => void (state.leases['two'] = lease('two', '10.0.0.3')));
      assert.equal(statSync(store.file).mode & 0o777, 0o600);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('commits what a failing transaction changed, and reads a corrupt file as empty', async () => {
    const a = new LeaseStore(dir);
    await assert.rejects(
      a.transaction(async (state) => {
        Reflect.deleteProperty(state.leases, 'one');
        throw new Error('half-way');
      }),
      /half-way/,
    );
    assert.equal((await new LeaseStore(dir).read()).leases['one'], undefined);
    writeFileSync(join(dir, 'leases.json'), '{"version":1,"leases":');
    assert.deepEqual((await a.read()).leases, {});
  });
});
