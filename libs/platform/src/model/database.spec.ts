import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { TEST_DATABASES, testDatabase } from '../testing/databases';
import { dataSourceOptions, databaseKind, openDatabase, redact } from './database';
import {
  AcmeState1765300000000,
  Addons1765400000000,
  AutoscaleHardLimit1765900000000,
  ByteCounts1764900000000,
  Capacity1764700000000,
  Certificates1765200000000,
  Drains1765550000000,
  JoinTokens1765100000000,
  MIGRATIONS,
  Maintenance1765500000000,
  ReleaseLifecycle1764500000000,
} from './migrations';
import {
  AcmeAccount,
  Addon,
  AddonAttachment,
  AddonBackup,
  ApiToken,
  App,
  Certificate,
  Domain,
  Drain,
  Formation,
  Instance,
  JoinToken,
  Node,
  Release,
  formationAutoscale,
} from './entities';
import { parseSize } from '../sizes';

for (const kind of TEST_DATABASES) {
  describe(`database on ${kind}`, () => {
    const disposers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const dispose of disposers.reverse()) await dispose();
    });

    it('migrations make exactly the schema the entities describe', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        assert.equal(databaseKind(ds), kind);
        const pending = await ds.driver.createSchemaBuilder().log();
        assert.deepEqual(
          pending.upQueries.map((q) => q.query),
          [],
          'entities and migrations disagree: write a migration',
        );
        assert.equal(await ds.showMigrations(), false, 'every migration ran');
      } finally {
        await ds.destroy();
      }
    });

    it('processes opening a new database together each find it migrated once (api replicas start together)', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const opened = await Promise.allSettled(
        [1, 2, 3].map(() => openDatabase({ url: db.url, platformDir: '/nonexistent' })),
      );
      try {
        assert.deepEqual(
          opened.map((o) => (o.status === 'fulfilled' ? 'opened' : String(o.reason))),
          ['opened', 'opened', 'opened'],
        );
        const first = (opened[0] as PromiseFulfilledResult<DataSource>).value;
        const rows = (await first.query('SELECT COUNT(*) AS n FROM migrations')) as { n: number | string }[];
        assert.equal(Number(rows[0]?.n), MIGRATIONS.length);
      } finally {
        for (const o of opened) if (o.status === 'fulfilled') await o.value.destroy();
      }
    });

    it('opening again keeps the data and runs nothing twice', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const first = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      await first.manager.insert(App, { id: '00000000-0000-4000-8000-000000000001', name: 'kept' });
      await first.destroy();
      const second = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        assert.equal((await second.manager.findOneByOrFail(App, { name: 'kept' })).name, 'kept');
        const rows = (await second.query('SELECT COUNT(*) AS n FROM migrations')) as { n: number | string }[];
        assert.equal(Number(rows[0]?.n), MIGRATIONS.length);
      } finally {
        await second.destroy();
      }
    });

    it('maps releases of pending/succeeded/failed + liveAt onto the lifecycle states', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const before = MIGRATIONS.slice(0, MIGRATIONS.indexOf(ReleaseLifecycle1764500000000));
      const old = new DataSource({
        ...dataSourceOptions({ url: db.url, platformDir: '/nonexistent' }),
        migrations: before,
      });
      await old.initialize();
      const apps = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'];
      // app a: v1 config only, v2 served, v3 serves, v4 failed its deploy, v5 deploys, v6 builds
      // app b: v1 config only (nothing pushed yet)
      const rows: [string, number, string, string | null, string | null][] = [
        [apps[0] as string, 1, 'succeeded', null, null],
        [apps[0] as string, 2, 'succeeded', 'r/a:2', '2026-12-01T00:00:00.000Z'],
        [apps[0] as string, 3, 'succeeded', 'r/a:3', '2026-12-02T00:00:00.000Z'],
        [apps[0] as string, 4, 'failed', 'r/a:4', null],
        [apps[0] as string, 5, 'succeeded', 'r/a:5', null],
        [apps[0] as string, 6, 'pending', 'r/a:6', null],
        [apps[1] as string, 1, 'succeeded', null, null],
      ];
      try {
        await old.runMigrations({ transaction: 'each' });
        for (const [appId, version, status, imageRef, liveAt] of rows) {
          // as the rows were then: the columns of that schema only
          const id = `00000000-0000-4000-8000-${appId.slice(-1)}0000000000${version}`;
          const params = [id, appId, version, status, imageRef, liveAt];
          const marks = params.map((_, k) => (kind === 'postgres' ? `$${k + 1}` : '?')).join(', ');
          await old.query(
            `INSERT INTO "releases" ("id", "appId", "version", "status", "imageRef", "liveAt", "description", "config", "processTypes") VALUES (${marks}, 'v', '{}', '{}')`,
            params,
          );
        }
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const states = (await ds.manager.find(Release, { order: { appId: 'ASC', version: 'ASC' } })).map(
          (r) => `${r.appId.slice(-1)}v${r.version} ${r.status}`,
        );
        assert.deepEqual(states, [
          'av1 superseded',
          'av2 superseded',
          'av3 live',
          'av4 failed',
          'av5 deploying',
          'av6 building',
          'bv1 live',
        ]);
      } finally {
        await ds.destroy();
      }
    });

    it('gives old formations the size of their memory, its weight and no CPU limit (the old cpu was a reservation)', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const old = new DataSource({
        ...dataSourceOptions({ url: db.url, platformDir: '/nonexistent' }),
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(Capacity1764700000000)),
      });
      await old.initialize();
      const appId = '00000000-0000-4000-8000-00000000000a';
      try {
        await old.runMigrations({ transaction: 'each' });
        for (const [type, memory, cpu] of [
          ['web', 512, 1000],
          ['worker', 300, 250],
          ['big', 1024, 4000],
        ] as const) {
          const marks = [1, 2, 3, 4, 5].map((k) => (kind === 'postgres' ? `$${k}` : '?')).join(', ');
          await old.query(`INSERT INTO "formations" ("appId", "type", "quantity", "memory", "cpu") VALUES (${marks})`, [
            appId,
            type,
            1,
            memory,
            cpu,
          ]);
        }
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const rows = await ds.manager.find(Formation, { order: { type: 'ASC' } });
        const got = rows.map((r) => [r.type, r.size, r.memory, r.cpuShares, r.cpuQuota]);
        assert.deepEqual(got, [
          ['big', 'standard-2x', 1024, 2048, null],
          ['web', 'standard-1x', 512, 1024, null],
          ['worker', '300M', 300, 600, null],
        ]);
        // what the migration wrote is what sizes.ts says of those sizes
        for (const r of rows) assert.equal(parseSize(r.size).cpuShares, r.cpuShares, r.size);
        // new rows take the default size
        await ds.manager.insert(Formation, { appId, type: 'new', quantity: 1 });
        const fresh = await ds.manager.findOneByOrFail(Formation, { appId, type: 'new' });
        assert.deepEqual([fresh.size, fresh.memory, fresh.cpuShares, fresh.cpuQuota], ['basic', 256, 512, null]);
      } finally {
        await ds.destroy();
      }
    });

    it('keeps instances across the bigint migration and their memory past 2 GiB', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const old = new DataSource({
        ...dataSourceOptions({ url: db.url, platformDir: '/nonexistent' }),
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(ByteCounts1764900000000)),
      });
      await old.initialize();
      const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
      const appId = '00000000-0000-4000-8000-00000000000a';
      try {
        await old.runMigrations({ transaction: 'each' });
        // as the rows were then: one with a memory sample, one without
        const marks = [1, 2, 3, 4, 5].map((m) => (kind === 'postgres' ? `$${m}` : '?')).join(', ');
        for (const [k, memoryBytes] of [[0, 1_234_567] as const, [1, null] as const]) {
          await old.query(
            `INSERT INTO "instances" ("id", "appId", "releaseId", "number", "memoryBytes", "type", "state") VALUES (${marks}, 'web', 'up')`,
            [ids[k], appId, appId, k + 1, memoryBytes],
          );
        }
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const rows = await ds.manager.find(Instance, { order: { number: 'ASC' } });
        assert.deepEqual(
          rows.map((r) => [r.id, r.number, r.memoryBytes]),
          [
            [ids[0], 1, 1_234_567],
            [ids[1], 2, null],
          ],
        );
        const threeGiB = 3 * 1024 ** 3;
        await ds.manager.update(Instance, { id: ids[1] }, { memoryBytes: threeGiB });
        assert.strictEqual((await ds.manager.findOneByOrFail(Instance, { id: ids[1] })).memoryBytes, threeGiB);
      } finally {
        await ds.destroy();
      }
    });

    it('keeps api tokens across the join-tokens migration, unbound and not revoked, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(JoinTokens1765100000000)),
      });
      await old.initialize();
      const id = '00000000-0000-4000-8000-000000000001';
      try {
        await old.runMigrations({ transaction: 'each' });
        const marks = [1, 2, 3, 4].map((m) => (kind === 'postgres' ? `$${m}` : '?')).join(', ');
        await old.query(
          `INSERT INTO "api_tokens" ("id", "name", "hash", "prefix", "admin", "node") VALUES (${marks}, ${kind === 'postgres' ? 'false, true' : '0, 1'})`,
          [id, 'agent', 'ab'.repeat(32), 'paas_abcdefg'],
        );
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const token = await ds.manager.findOneByOrFail(ApiToken, { id });
        assert.deepEqual([token.name, token.node, token.nodeName, token.revokedAt], ['agent', true, null, null]);
        await ds.manager.insert(JoinToken, {
          id,
          hash: 'cd'.repeat(32),
          prefix: 'pjoin_abcdefg',
          expiresAt: new Date().toISOString(),
          usedAt: null,
          nodeName: null,
        });
        await assert.rejects(
          ds.manager.insert(JoinToken, {
            ...(await ds.manager.findOneByOrFail(JoinToken, { id })),
            id: `${id.slice(0, -1)}2`,
          }),
          'a hash is unique',
        );
        // undone down to the join tokens, the later migrations with them
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(JoinTokens1765100000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        const columns = (await ds.createQueryRunner().getTable('api_tokens'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!columns.includes('nodeName') && !columns.includes('revokedAt'), columns.join());
        assert.equal(await ds.createQueryRunner().hasTable('join_tokens'), false);
      } finally {
        await ds.destroy();
      }
    });

    it("moves a node's desired generation with its desired set, and with nothing else", async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
        const [a, b] = [id(101), id(102)];
        for (const [nodeId, name] of [
          [a, 'a'],
          [b, 'b'],
        ] as const) {
          await ds.manager.insert(Node, {
            id: nodeId,
            name,
            address: '10.0.0.1',
            memory: 1024,
            cpus: 1000,
            state: 'up',
          });
        }
        await ds.manager.insert(App, { id: id(1), name: 'app' });
        const generations = async () =>
          Object.fromEntries((await ds.manager.find(Node)).map((n) => [n.name, n.desiredGeneration]));
        let seen = await generations();
        /** What each node's generation did since the last look: moved or not. */
        const moved = async (): Promise<Record<string, boolean>> => {
          const now = await generations();
          const out = Object.fromEntries(Object.keys(now).map((k) => [k, now[k] !== seen[k]]));
          seen = now;
          return out;
        };
        const row = { appId: id(1), releaseId: id(2), type: 'web', state: 'starting' as const };
        await ds.manager.insert(Instance, { ...row, id: id(11), number: 1, nodeId: a });
        assert.deepEqual(await moved(), { a: true, b: false }, 'placed on a');
        await ds.manager.insert(Instance, { ...row, id: id(12), number: 2, nodeId: null });
        assert.deepEqual(await moved(), { a: false, b: false }, 'pending: on no node');
        // what agents report moves nothing: the heartbeat's writes
        await ds.manager.update(Instance, { id: id(11) }, { state: 'up', address: '10.0.0.2', pid: 7, memoryBytes: 5 });
        assert.deepEqual(await moved(), { a: false, b: false }, 'reported state');
        await ds.manager.update(Instance, { id: id(11) }, { size: 'standard-1x', memory: 512 });
        assert.deepEqual(await moved(), { a: true, b: false }, 'resized');
        await ds.manager.update(Instance, { id: id(12) }, { nodeId: b });
        assert.deepEqual(await moved(), { a: false, b: true }, 'the pending one placed on b');
        await ds.manager.update(Instance, { id: id(12) }, { nodeId: a });
        assert.deepEqual(await moved(), { a: true, b: true }, 'moved from b to a');
        await ds.manager.update(App, { id: id(1) }, { name: 'renamed' });
        assert.deepEqual(await moved(), { a: true, b: false }, 'its app renamed');
        await ds.manager.update(Instance, { id: id(11) }, { desired: 'stop' });
        assert.deepEqual(await moved(), { a: true, b: false }, 'told to stop');
        await ds.manager.delete(Instance, { id: id(11) });
        assert.deepEqual(await moved(), { a: false, b: false }, 'a stopped one removed');
        await ds.manager.delete(Instance, { id: id(12) });
        assert.deepEqual(await moved(), { a: true, b: false }, 'a running one removed');
      } finally {
        await ds.destroy();
      }
    });

    it('keeps apps across the certificates migration with HTTPS off, stores certificates, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(Certificates1765200000000)),
      });
      await old.initialize();
      const id = '00000000-0000-4000-8000-000000000001';
      try {
        await old.runMigrations({ transaction: 'each' });
        await old.query(`INSERT INTO "apps" ("id", "name") VALUES (${kind === 'postgres' ? '$1, $2' : '?, ?'})`, [
          id,
          'old',
        ]);
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const app = await ds.manager.findOneByOrFail(App, { id });
        assert.deepEqual([app.name, app.httpsRedirect, app.hstsMaxAge], ['old', false, null]);
        const cert = {
          id,
          appId: id,
          names: ['www.example.com', '*.example.org'],
          chain: '-----BEGIN CERTIFICATE-----\n...',
          key: 'v1:sealed',
          source: 'acme' as const,
          issuer: 'CN=R3, O=Example, C=US',
          notBefore: '2026-01-01T00:00:00.000Z',
          notAfter: '2026-04-01T00:00:00.000Z',
          fingerprint: `${'AB:'.repeat(31)}AB`,
        };
        await ds.manager.insert(Certificate, { ...cert });
        const { createdAt, ...stored } = await ds.manager.findOneByOrFail(Certificate, { id });
        assert.deepEqual(stored, cert);
        assert.ok(createdAt instanceof Date);
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(Certificates1765200000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        const columns = (await ds.createQueryRunner().getTable('apps'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!columns.includes('httpsRedirect') && !columns.includes('hstsMaxAge'), columns.join());
        assert.equal(await ds.createQueryRunner().hasTable('certificates'), false);
      } finally {
        await ds.destroy();
      }
    });

    it('keeps apps and domains across the ACME migration with automatic certificates off, stores their state, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(AcmeState1765300000000)),
      });
      await old.initialize();
      const id = '00000000-0000-4000-8000-000000000002';
      const p = (n: number): string => (kind === 'postgres' ? `$${n}` : '?');
      try {
        await old.runMigrations({ transaction: 'each' });
        await old.query(`INSERT INTO "apps" ("id", "name") VALUES (${p(1)}, ${p(2)})`, [id, 'shop']);
        await old.query(`INSERT INTO "domains" ("id", "appId", "hostname") VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
          id,
          id,
          'www.example.com',
        ]);
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const app = await ds.manager.findOneByOrFail(App, { id });
        assert.deepEqual([app.name, app.certsAuto, app.httpsRedirect], ['shop', false, false]);
        const before = await ds.manager.findOneByOrFail(Domain, { id });
        assert.deepEqual(
          [
            before.acmeState,
            before.acmeProblem,
            before.acmeAttempts,
            before.acmeLastAttemptAt,
            before.acmeNextAttemptAt,
          ],
          [null, null, 0, null, null],
        );
        const problem = {
          type: 'urn:ietf:params:acme:error:connection',
          detail: '1 of 1 authorizations failed: www.example.com: connection refused',
          status: 400,
          subproblems: [
            { identifier: 'www.example.com', type: 'urn:ietf:params:acme:error:connection', detail: 'refused' },
          ],
        };
        const state = {
          acmeState: 'failed' as const,
          acmeProblem: problem,
          acmeAttempts: 3,
          acmeLastAttemptAt: '2026-12-06T18:00:00.000Z',
          acmeNextAttemptAt: '2026-12-06T18:04:00.000Z',
        };
        await ds.manager.update(Domain, { id }, state);
        const after = await ds.manager.findOneByOrFail(Domain, { id });
        assert.deepEqual(
          {
            acmeState: after.acmeState,
            acmeProblem: after.acmeProblem,
            acmeAttempts: after.acmeAttempts,
            acmeLastAttemptAt: after.acmeLastAttemptAt,
            acmeNextAttemptAt: after.acmeNextAttemptAt,
          },
          state,
        );
        await ds.manager.update(App, { id }, { certsAuto: true });
        assert.equal((await ds.manager.findOneByOrFail(App, { id })).certsAuto, true);
        const account = { id: 'a'.repeat(64), directoryUrl: 'https://acme.example/dir', key: 'v1:sealed' };
        await ds.manager.insert(AcmeAccount, { ...account });
        await assert.rejects(ds.manager.insert(AcmeAccount, { ...account, key: 'v1:other' }), 'one key per directory');
        const { createdAt: _, ...stored } = await ds.manager.findOneByOrFail(AcmeAccount, { id: account.id });
        assert.deepEqual(stored, account);
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(AcmeState1765300000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        const qr = ds.createQueryRunner();
        const apps = (await qr.getTable('apps'))?.columns.map((c) => c.name) ?? [];
        const domains = (await qr.getTable('domains'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!apps.includes('certsAuto') && apps.includes('httpsRedirect'), apps.join());
        assert.deepEqual(
          domains.filter((c) => c.startsWith('acme')),
          [],
          domains.join(),
        );
        assert.equal(await qr.hasTable('acme_accounts'), false);
        await qr.release();
      } finally {
        await ds.destroy();
      }
    });

    it('keeps nodes across the add-ons migration, stores add-ons with their attachments and backups, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(Addons1765400000000)),
      });
      await old.initialize();
      const id = '00000000-0000-4000-8000-000000000003';
      const p = (n: number): string => (kind === 'postgres' ? `$${n}` : '?');
      try {
        await old.runMigrations({ transaction: 'each' });
        await old.query(
          `INSERT INTO "nodes" ("id", "name", "address", "memory", "cpus", "state") VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1024, 2000, 'up')`,
          [id, 'n1', '10.0.0.1'],
        );
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const node = await ds.manager.findOneByOrFail(Node, { id });
        assert.deepEqual([node.name, node.serviceAddress], ['n1', null]);
        const addon = { id, name: 'postgres-amber-12345', type: 'postgres' as const, appId: null, nodeId: id };
        await ds.manager.insert(Addon, { ...addon, volume: 'addon-x', port: 20001, password: 'p', state: 'creating' });
        await assert.rejects(
          ds.manager.insert(Addon, {
            ...addon,
            id: `${id.slice(0, -1)}4`,
            volume: 'v',
            port: 20001,
            password: 'p',
            state: 'up',
          }),
          'one add-on a port',
        );
        await ds.manager.insert(AddonAttachment, { id, addonId: id, appId: id, name: 'DATABASE' });
        await assert.rejects(
          ds.manager.insert(AddonAttachment, { id: `${id.slice(0, -1)}4`, addonId: id, appId: id, name: 'DATABASE' }),
          'one attachment name an app',
        );
        await ds.manager.insert(AddonBackup, {
          id,
          addonId: id,
          addonName: addon.name,
          addonType: 'postgres',
          number: 1,
          state: 'succeeded',
          digest: `sha256:${'0'.repeat(64)}`,
          size: 5 * 2 ** 30,
          trigger: 'manual',
        });
        assert.equal((await ds.manager.findOneByOrFail(AddonBackup, { id })).size, 5 * 2 ** 30);
        // undone down to the add-ons, the later migrations with them
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(Addons1765400000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        const qr = ds.createQueryRunner();
        const nodes = (await qr.getTable('nodes'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!nodes.includes('serviceAddress') && nodes.includes('desiredGeneration'), nodes.join());
        for (const table of ['addons', 'addon_attachments', 'addon_backups'])
          assert.equal(await qr.hasTable(table), false);
        await qr.release();
      } finally {
        await ds.destroy();
      }
    });

    it('keeps apps across the maintenance migration with maintenance off, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(Maintenance1765500000000)),
      });
      await old.initialize();
      const id = '00000000-0000-4000-8000-000000000005';
      const p = (n: number): string => (kind === 'postgres' ? `$${n}` : '?');
      try {
        await old.runMigrations({ transaction: 'each' });
        await old.query(`INSERT INTO "apps" ("id", "name") VALUES (${p(1)}, ${p(2)})`, [id, 'shop']);
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const app = await ds.manager.findOneByOrFail(App, { id });
        assert.deepEqual([app.name, app.maintenance, app.httpsRedirect], ['shop', false, false]);
        await ds.manager.update(App, { id }, { maintenance: true });
        assert.equal((await ds.manager.findOneByOrFail(App, { id })).maintenance, true);
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(Maintenance1765500000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        const qr = ds.createQueryRunner();
        const apps = (await qr.getTable('apps'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!apps.includes('maintenance') && apps.includes('certsAuto'), apps.join());
        await qr.release();
      } finally {
        await ds.destroy();
      }
    });

    it('keeps autoscaled formations across the hard-limit migration with no limit, and undoes it', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const options = dataSourceOptions({ url: db.url, platformDir: '/nonexistent' });
      const old = new DataSource({
        ...options,
        migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(AutoscaleHardLimit1765900000000)),
      });
      await old.initialize();
      const appId = '00000000-0000-4000-8000-000000000006';
      const p = (n: number): string => (kind === 'postgres' ? `$${n}` : '?');
      try {
        await old.runMigrations({ transaction: 'each' });
        await old.query(
          `INSERT INTO "formations" ("appId", "type", "quantity", "autoscaleMin", "autoscaleMax", "autoscaleConcurrency", "autoscaleIdleMs") VALUES (${p(1)}, 'web', 1, 0, 5, 20, 60000)`,
          [appId],
        );
      } finally {
        await old.destroy();
      }
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const row = await ds.manager.findOneByOrFail(Formation, { appId, type: 'web' });
        assert.deepEqual(formationAutoscale(row), { min: 0, max: 5, concurrency: 20, idleMs: 60_000 });
        await ds.manager.update(Formation, { appId, type: 'web' }, { autoscaleHardLimit: 30 });
        const limited = await ds.manager.findOneByOrFail(Formation, { appId, type: 'web' });
        assert.equal(formationAutoscale(limited)?.hardLimit, 30);
        await ds.undoLastMigration({ transaction: 'each' });
        const qr = ds.createQueryRunner();
        const columns = (await qr.getTable('formations'))?.columns.map((c) => c.name) ?? [];
        assert.ok(!columns.includes('autoscaleHardLimit') && columns.includes('autoscaleIdleMs'), columns.join());
        await qr.release();
      } finally {
        await ds.destroy();
      }
    });

    it('keeps one drain per app and URL, and undoes the drains migration', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const drain = { appId: '00000000-0000-4000-8000-000000000001', url: 'syslog://logs.example.com:514' };
        await ds.manager.insert(Drain, { id: '00000000-0000-4000-8000-000000000011', ...drain });
        await assert.rejects(
          ds.manager.insert(Drain, { id: '00000000-0000-4000-8000-000000000012', ...drain }),
          'one drain an app and URL',
        );
        await ds.manager.insert(Drain, {
          ...drain,
          id: '00000000-0000-4000-8000-000000000013',
          appId: '00000000-0000-4000-8000-000000000002',
        });
        assert.equal(await ds.manager.count(Drain), 2);
        for (const _ of MIGRATIONS.slice(MIGRATIONS.indexOf(Drains1765550000000)))
          await ds.undoLastMigration({ transaction: 'each' });
        assert.equal(await ds.createQueryRunner().hasTable('drains'), false);
      } finally {
        await ds.destroy();
      }
    });

    it('refuses a second app with the same name', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        await ds.manager.insert(App, { id: '00000000-0000-4000-8000-000000000001', name: 'twice' });
        await assert.rejects(ds.manager.insert(App, { id: '00000000-0000-4000-8000-000000000002', name: 'twice' }));
        assert.equal(await ds.manager.count(App), 1);
      } finally {
        await ds.destroy();
      }
    });

    it('refuses a second review app of one branch of a parent, and undoes the index', async () => {
      const db = await testDatabase(kind);
      disposers.push(() => db.dispose());
      const ds = await openDatabase({ url: db.url, platformDir: '/nonexistent' });
      try {
        const parentId = '00000000-0000-4000-8000-000000000001';
        await ds.manager.insert(App, [
          { id: parentId, name: 'web' },
          { id: '00000000-0000-4000-8000-000000000002', name: 'other' },
          { id: '00000000-0000-4000-8000-000000000003', name: 'web--x', parentId, branch: 'x' },
          { id: '00000000-0000-4000-8000-000000000004', name: 'web--y', parentId, branch: 'y' },
        ]);
        const again = { id: '00000000-0000-4000-8000-000000000005', name: 'web--x-1234567', parentId, branch: 'x' };
        await assert.rejects(ds.manager.insert(App, again));
        assert.equal(await ds.manager.count(App), 4, 'apps without a parent are not held to it');
        // undone down to ReviewAppBranches (later migrations first)
        for (;;) {
          const [last] = (await ds.query(
            'SELECT "name" FROM "migrations" ORDER BY "timestamp" DESC LIMIT 1',
          )) as Array<{
            name: string;
          }>;
          await ds.undoLastMigration({ transaction: 'each' });
          if (!last || last.name === 'ReviewAppBranches1765800000000') break;
        }
        await ds.manager.insert(App, again);
        await ds.manager.delete(App, { id: again.id });
        await ds.runMigrations({ transaction: 'each' });
        await assert.rejects(ds.manager.insert(App, again));
      } finally {
        await ds.destroy();
      }
    });
  });
}

describe('database settings', () => {
  it('defaults to a SQLite file under the platform directory, created on open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-db-'));
    try {
      const options = dataSourceOptions({ platformDir: join(dir, 'platform') });
      assert.equal(options.type, 'better-sqlite3');
      assert.equal(options.database, join(dir, 'platform', 'paas.db'));
      const ds = await openDatabase({ platformDir: join(dir, 'platform') });
      await ds.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes postgres:// and sqlite:/// URLs and names the variable when one is wrong', () => {
    assert.equal(dataSourceOptions({ url: 'postgres://u:p@127.0.0.1:5432/db', platformDir: '/x' }).type, 'postgres');
    assert.equal(dataSourceOptions({ url: 'postgresql://h/db', platformDir: '/x' }).type, 'postgres');
    assert.equal(dataSourceOptions({ url: 'sqlite:///var/lib/p.db', platformDir: '/x' }).database, '/var/lib/p.db');
    assert.throws(
      () => dataSourceOptions({ url: 'mysql://h/db', platformDir: '/x' }),
      /DATABASE_URL="mysql:\/\/h\/db": expected/,
    );
    assert.throws(() => dataSourceOptions({ url: 'sqlite:relative.db', platformDir: '/x' }), /absolute path/);
    assert.throws(
      () => dataSourceOptions({ url: 'postgres://u:secret@[bad', platformDir: '/x' }),
      (err: Error) => {
        assert.match(err.message, /not a valid URL/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });

  it('redacts passwords', () => {
    assert.equal(redact('postgres://me:hunter2@db:5432/x'), 'postgres://me:***@db:5432/x');
    assert.equal(redact('postgres://db/x'), 'postgres://db/x');
  });
});
