import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '@paas/oci';
import { type ContainerRecord, ContainerConflictError, ContainerStore, newContainerId } from './record';

function record(name: string): ContainerRecord {
  return {
    id: newContainerId(),
    name,
    created: new Date().toISOString(),
    image: 'busybox',
    imageId: digestOf('x'),
    chainIds: [],
    args: ['true'],
    run: { env: [], binds: [], resources: {} },
    hostname: 'h',
    labels: {},
    network: { mode: 'none', ports: [] },
    restart: 'no',
    stopSignal: 'SIGTERM',
    stopTimeout: 10,
    autoRemove: false,
    interactive: false,
  };
}

describe('ContainerStore', () => {
  let dir: string;
  let store: ContainerStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-records-'));
    store = new ContainerStore(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a name that is taken, naming the container that has it', async () => {
    const first = await store.create(record('web'));
    await assert.rejects(
      store.create(record('web')),
      (err: unknown) => err instanceof ContainerConflictError && err.message.includes(`by container "${first.id}"`),
    );
  });

  it('picks another generated name when the random one is taken', async () => {
    await store.create(record('happy_turing'));
    const names = ['happy_turing', 'happy_turing', 'calm_hopper'];
    const second = await store.create(record('happy_turing'), () => names.shift() ?? 'x');
    assert.equal(second.name, 'calm_hopper');
    assert.equal((await store.resolve('calm_hopper')).id, second.id);
  });

  it('resolves by name, id and unique id prefix, and renames under the names lock', async () => {
    const r = await store.create(record('db'));
    assert.equal((await store.resolve(r.id.slice(0, 12))).name, 'db');
    await store.rename(r.id, 'db2');
    assert.equal((await store.resolve('db2')).id, r.id);
    await assert.rejects(store.rename(r.id, 'web'), ContainerConflictError);
    await assert.rejects(store.rename(r.id, 'bad/name'), /Invalid container name/);
  });

  it('gives a name back on rename and on forget (a removed container)', async () => {
    const r = await store.create(record('old-name'));
    await store.rename(r.id, 'new-name');
    await assert.rejects(store.resolve('old-name'), /No such container: old-name/);
    const other = await store.create(record('old-name'));
    rmSync(store.dir(other.id), { recursive: true });
    await store.forget(other);
    await assert.rejects(store.resolve('old-name'), /No such container/);
    assert.equal((await store.create(record('old-name'))).name, 'old-name');
  });

  it('finds and claims a name without reading the other records (1,000 containers)', async () => {
    const r = await store.create(record('needle'));
    // records that would fail any read of every record (a directory where the JSON should be)
    for (let i = 0; i < 50; i++) mkdirSync(join(store.dir(newContainerId()), 'container.json'), { recursive: true });
    await assert.rejects(store.list(), /EISDIR/, 'the trap works: listing reads every record');
    assert.equal((await store.resolve('needle')).id, r.id);
    assert.equal((await store.resolve(r.id)).name, 'needle');
    assert.equal((await store.create(record('another'))).name, 'another');
    await assert.rejects(store.create(record('needle')), /already in use/);
  });
});

describe('ContainerStore after a crash, and on a root older than the names table', () => {
  let dir: string;
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('frees a name whose entry owns nothing: claimed before its record was written, or left by a removal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-records-'));
    const store = new ContainerStore(dir);
    const kept = await store.create(record('kept'));
    // a create killed after claiming the name, before the record: an entry and no record
    writeFileSync(join(dir, 'names', 'half-made'), newContainerId());
    await assert.rejects(store.resolve('half-made'), /No such container: half-made/);
    assert.equal((await store.create(record('half-made'))).name, 'half-made');
    // a removal killed after the directory went, before the entry
    const gone = await store.create(record('gone'));
    rmSync(store.dir(gone.id), { recursive: true });
    assert.equal((await store.create(record('gone'))).name, 'gone');
    // an entry naming a container that was renamed since (a rename killed half-way)
    writeFileSync(join(dir, 'names', 'stale'), kept.id);
    assert.equal((await store.create(record('stale'))).name, 'stale');
  });

  it('builds the names table from the records of a root that has none', async () => {
    const root = mkdtempSync(join(tmpdir(), 'paas-records-'));
    try {
      const old = record('from-before');
      mkdirSync(join(root, old.id));
      writeFileSync(join(root, old.id, 'container.json'), JSON.stringify(old));
      const store = new ContainerStore(root);
      assert.equal((await store.resolve('from-before')).id, old.id);
      await assert.rejects(store.create(record('from-before')), /already in use by container "[a-f0-9]{64}"/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
