import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  ANONYMOUS_VOLUME_LABEL,
  VolumeError,
  VolumeInUseError,
  VolumeNotFoundError,
  VolumeStore,
  validateVolumeName,
} from './volume-store';

describe('VolumeStore', () => {
  let dir: string;
  let store: VolumeStore;
  /** Which containers use which volume: the role the engine plays from its records. */
  let users: Map<string, string[]>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-volumes-'));
    users = new Map();
    store = new VolumeStore({ root: join(dir, 'volumes'), usersOf: async (name) => users.get(name) ?? [] });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("lays a volume out as Docker's local driver: <name>/_data and its metadata beside it", async () => {
    const volume = await store.create('pgdata', { labels: { app: 'web' } });
    assert.equal(volume.name, 'pgdata');
    assert.equal(volume.driver, 'local');
    assert.equal(volume.scope, 'local');
    assert.equal(volume.mountpoint, join(dir, 'volumes', 'pgdata', '_data'));
    assert.deepEqual(volume.labels, { app: 'web' });
    assert.ok(!Number.isNaN(Date.parse(volume.createdAt)));
    assert.deepEqual(readdirSync(join(dir, 'volumes', 'pgdata')).sort(), ['_data', 'volume.json']);
    assert.deepEqual(await store.get('pgdata'), volume);
  });

  it('returns the existing volume when a name is created again (the first labels stay)', async () => {
    const first = await store.create('cache', { labels: { a: '1' } });
    writeFileSync(join(first.mountpoint, 'kept'), 'x');
    const again = await store.create('cache', { labels: { a: '2' } });
    assert.deepEqual(again, first);
    assert.ok(existsSync(join(first.mountpoint, 'kept')), 'the data is untouched');
  });

  it('names an anonymous volume with 64 hex digits and labels it anonymous', async () => {
    const volume = await store.create();
    assert.match(volume.name, /^[a-f0-9]{64}$/);
    assert.equal(volume.labels[ANONYMOUS_VOLUME_LABEL], '');
  });

  it("refuses names outside Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+, saying which and what is allowed", async () => {
    for (const bad of ['a', '.hidden', '_x', '-x', 'a/b', '../escape', 'sp ace', 'x'.repeat(256), '']) {
      await assert.rejects(
        store.create(bad),
        (err: unknown) =>
          err instanceof VolumeError &&
          err.message.startsWith(`create ${bad}: "${bad}" includes invalid characters for a local volume name`),
        bad,
      );
    }
    assert.doesNotThrow(() => validateVolumeName('db_1.data-x'));
    assert.deepEqual(await store.list(), [], 'nothing made by a refused create');
  });

  it('makes one volume when several processes create the same name at once', async () => {
    const root = join(dir, 'volumes');
    const script = `
      const { VolumeStore } = require(${JSON.stringify(join(__dirname, 'volume-store.ts'))});
      new VolumeStore({ root: ${JSON.stringify(root)}, usersOf: async () => [] })
        .create('shared', { labels: { by: String(process.pid) } })
        .then((v) => process.stdout.write(JSON.stringify(v)), (e) => { console.error(e); process.exit(1); });`;
    const outputs = await Promise.all(
      Array.from({ length: 6 }, () => runNode(['--import', 'tsx', '-e', script], join(__dirname, '..', '..'))),
    );
    const created = outputs.map((o) => JSON.parse(o) as { createdAt: string; labels: Record<string, string> });
    // every process got the one volume that landed: the same creation time and labels
    assert.equal(new Set(created.map((v) => `${v.createdAt} ${v.labels['by']}`)).size, 1, outputs.join('\n'));
    assert.deepEqual(
      readdirSync(root).filter((n) => !n.startsWith('.lock')),
      ['shared'],
      'no temporary directory is left',
    );
  });

  it('lists volumes by name and filters by name, label and dangling', async () => {
    await store.create('alpha', { labels: { tier: 'db' } });
    await store.create('beta', { labels: { tier: 'cache', x: '' } });
    await store.create('gamma');
    users.set('beta', ['c1']);
    const names = async (filters: Parameters<VolumeStore['list']>[0]): Promise<string[]> =>
      (await store.list(filters)).map((v) => v.name);
    assert.deepEqual(await names({}), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names({ name: ['ph'] }), ['alpha']);
    assert.deepEqual(await names({ name: ['alp', 'gam'] }), ['alpha', 'gamma']);
    assert.deepEqual(await names({ label: ['tier'] }), ['alpha', 'beta']);
    assert.deepEqual(await names({ label: ['tier=db'] }), ['alpha']);
    assert.deepEqual(await names({ label: ['tier', 'x'] }), ['beta']);
    assert.deepEqual(await names({ dangling: true }), ['alpha', 'gamma']);
    assert.deepEqual(await names({ dangling: false }), ['beta']);
  });

  it("refuses to remove a volume a container uses, even forced, with Docker's message", async () => {
    await store.create('busy');
    users.set('busy', ['abc', 'def']);
    for (const force of [false, true]) {
      await assert.rejects(
        store.remove('busy', { force }),
        (err: unknown) =>
          err instanceof VolumeInUseError && err.message === 'remove busy: volume is in use - [abc, def]',
      );
    }
    assert.ok(await store.find('busy'), 'still there');
    users.delete('busy');
    await store.remove('busy');
    assert.equal(await store.find('busy'), undefined);
    assert.equal(existsSync(join(dir, 'volumes', 'busy')), false);
  });

  it('says a missing volume is missing, unless forced', async () => {
    await assert.rejects(
      store.remove('ghost'),
      (err: unknown) => err instanceof VolumeNotFoundError && err.message === 'No such volume: ghost',
    );
    await store.remove('ghost', { force: true });
    await assert.rejects(store.get('ghost'), VolumeNotFoundError);
    await assert.rejects(store.get('../etc'), VolumeNotFoundError);
  });

  it('prunes unused anonymous volumes, and unused named ones too with all; the bytes they held', async () => {
    const anonUnused = await store.create();
    const anonUsed = await store.create();
    await store.create('named-unused');
    await store.create('named-used');
    users.set(anonUsed.name, ['c1']);
    users.set('named-used', ['c2']);
    writeFileSync(join(anonUnused.mountpoint, 'f'), 'x'.repeat(1000));
    assert.deepEqual(await store.prune(), { removed: [anonUnused.name], reclaimedBytes: 1000 });
    assert.deepEqual(await store.prune({ all: true }), { removed: ['named-unused'], reclaimedBytes: 0 });
    assert.deepEqual((await store.list()).map((v) => v.name).sort(), [anonUsed.name, 'named-used'].sort());
  });

  it('prunes by label only what carries it', async () => {
    await store.create('keep', { labels: { env: 'prod' } });
    await store.create('drop', { labels: { env: 'test' } });
    assert.deepEqual((await store.prune({ all: true, label: ['env=test'] })).removed, ['drop']);
    assert.ok(await store.find('keep'));
  });

  it('reports a corrupt volume.json naming the file, and still lets rm remove that volume', async () => {
    await store.create('broken');
    const file = join(dir, 'volumes', 'broken', 'volume.json');
    writeFileSync(file, '{"name": "bro');
    for (const read of [() => store.get('broken'), () => store.list()]) {
      await assert.rejects(
        read(),
        (err: unknown) => err instanceof VolumeError && err.message.includes(file) && err.code === 'data_loss',
      );
    }
    writeFileSync(file, JSON.stringify({ name: 'other', createdAt: 'x', labels: {} }));
    await assert.rejects(
      store.get('broken'),
      (err: unknown) => err instanceof VolumeError && err.message.includes(file),
    );
    await store.remove('broken');
    assert.deepEqual(await store.list(), []);
  });
});

function runNode(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
