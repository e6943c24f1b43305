import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Lease } from './ipam';
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
