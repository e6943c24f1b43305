import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
});
