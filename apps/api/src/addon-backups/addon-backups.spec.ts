/**
 * Backups of PostgreSQL add-ons through the REST API, against real PostgreSQL servers standing
 * in for two add-ons (clusters whose superuser is `postgres`, as an add-on's). The add-on rows
 * are written straight into the database: the add-ons module (placement, attach) is another's.
 */
import type { Digest } from '@paas/oci';
import { Addon, AddonAttachment, AddonBackup, type App, issueToken } from '@paas/platform';
import { TEST_DATABASES, type TestPostgres, queryPostgres, startTestPostgres } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createApp, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { AddonBackupsService, SCHEDULED_KEPT } from './addon-backups.service';

const sql = <T extends pg.QueryResultRow = Record<string, unknown>>(
  cluster: TestPostgres,
  text: string,
): Promise<T[]> => queryPostgres<T>(cluster.url, text);

const rows = async (cluster: TestPostgres): Promise<string[]> =>
  (await sql<{ name: string }>(cluster, 'SELECT name FROM items ORDER BY id')).map((r) => r.name);

const portOf = (cluster: TestPostgres): number => Number(new URL(cluster.url).port);

/** The add-ons' password, which their servers ask for (what reaches pg_dump is checked). */
const PASSWORD = 'add-on password, 32 chars or so!';

let clusterA: TestPostgres | undefined;
let clusterB: TestPostgres | undefined;
before(async () => {
  [clusterA, clusterB] = await Promise.all([
    startTestPostgres({ superuser: 'postgres', password: PASSWORD }),
    startTestPostgres({ superuser: 'postgres', password: PASSWORD }),
  ]);
});
after(() => {
  clusterA?.stop();
  clusterB?.stop();
});

for (const kind of TEST_DATABASES) {
  describe(`add-on backups on ${kind}`, () => {
    let api: TestApi;
    let service: AddonBackupsService;
    let a: TestPostgres;
    let b: TestPostgres;
    let shop: App;
    let other: App;
    let shopToken: string;
    let thirdToken: string;

    async function insertAddon(
      name: string,
      type: 'postgres' | 'redis',
      port: number,
      nodeId: string,
      apps: App[],
    ): Promise<Addon> {
      const addon = api.dataSource.manager.create(Addon, {
        id: randomUUID(),
        name,
        type,
        appId: apps[0]?.id ?? null,
        nodeId,
        volume: `addon-${name}`,
        port,
        password: PASSWORD,
        state: 'up',
        containerId: null,
        error: null,
        backupHour: null,
      });
      await api.dataSource.manager.insert(Addon, addon);
      for (const app of apps) {
        await api.dataSource.manager.insert(AddonAttachment, {
          id: randomUUID(),
          addonId: addon.id,
          appId: app.id,
          // one config var each: `PG_A_SQLITE_URL`...
          name: name.toUpperCase().replace(/-/g, '_'),
        });
      }
      return addon;
    }

    async function capture(name: string): Promise<{ id: string; name: string; state: string; error: string | null }> {
      const res = await api.request('POST', `/api/addons/${name}/backups`);
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.state, 'running');
      await service.settled();
      const list = await api.request('GET', `/api/addons/${name}/backups`);
      return list.body.find((x: { id: string }) => x.id === res.body.id);
    }

    before(async () => {
      assert.ok(clusterA && clusterB);
      a = clusterA;
      b = clusterB;
      api = await startTestApi(kind);
      service = api.api.app.get(AddonBackupsService);
      shop = await createApp(api, 'shop');
      other = await createApp(api, 'other');
      await createApp(api, 'third');
      const node = await insertNode(api, 'node-1');
      await api.dataSource.manager.update('nodes', { id: node.id }, { serviceAddress: '127.0.0.1' });
      await insertAddon(`pg-a-${kind}`, 'postgres', portOf(a), node.id, [shop]);
      await insertAddon(`pg-b-${kind}`, 'postgres', portOf(b), node.id, [other]);
      await insertAddon(`redis-${kind}`, 'redis', 1, node.id, [shop]);
      // a closed port on loopback: the server is gone
      await insertAddon(`pg-down-${kind}`, 'postgres', 2, node.id, [shop]);
      shopToken = (await issueToken(api.dataSource.manager, { name: 'shop', apps: ['shop'] })).token;
      thirdToken = (await issueToken(api.dataSource.manager, { name: 'third', apps: ['third'] })).token;
      await sql(a, 'DROP TABLE IF EXISTS items');
      await sql(a, 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)');
      await sql(a, `INSERT INTO items (name) SELECT 'row ' || n FROM generate_series(1, 100) n`);
      await sql(b, 'DROP TABLE IF EXISTS items');
    });
    after(async () => {
      await api?.close();
    });

    it('captures b001, b002... in the background, and lists them', async () => {
      const first = await capture(`pg-a-${kind}`);
      assert.equal(first.state, 'succeeded', first.error ?? '');
      assert.equal(first.name, 'b001');
      const second = await capture(`pg-a-${kind}`);
      assert.equal(second.name, 'b002');
      const list = await api.request('GET', `/api/addons/pg-a-${kind}/backups`, { token: shopToken });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((x: { name: string; addon: string; trigger: string }) => [x.name, x.addon, x.trigger]),
        [
          ['b001', `pg-a-${kind}`, 'manual'],
          ['b002', `pg-a-${kind}`, 'manual'],
        ],
      );
      assert.ok(list.body[0].size > 0);
      assert.match(list.body[0].digest, /^sha256:[0-9a-f]{64}$/);
      assert.ok(Date.parse(list.body[0].finishedAt));
    });

    it('records a capture that fails with the reason', async () => {
      const failed = await capture(`pg-down-${kind}`);
      assert.equal(failed.state, 'failed');
      assert.match(failed.error ?? '', /cannot reach PostgreSQL at 127\.0\.0\.1:2/);
      // the add-on's password is what its server is asked with
      const name = `pg-a-${kind}`;
      await api.dataSource.manager.update(Addon, { name }, { password: 'not the password' });
      try {
        const refused = await capture(name);
        assert.equal(refused.state, 'failed');
        assert.match(refused.error ?? '', /password authentication failed for user "postgres"/);
        await api.request('DELETE', `/api/backups/${refused.id}`);
      } finally {
        await api.dataSource.manager.update(Addon, { name }, { password: PASSWORD });
      }
    });

    it('downloads the dump', async () => {
      const [backup] = (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body;
      const res = await fetch(`${api.url}/api/backups/${backup.id}/download`, {
        headers: { authorization: `Bearer ${shopToken}` },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="pg-a-${kind}-b001.dump"`);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(bytes.length, backup.size);
      assert.equal(bytes.subarray(0, 5).toString('latin1'), 'PGDMP');
    });

    it('restores into the same add-on only with the confirmation', async () => {
      const before = await rows(a);
      const [backup] = (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body;
      await sql(a, 'DROP TABLE items');
      for (const confirm of ['other', 'wrong', '']) {
        const res = await api.request('POST', `/api/addons/pg-a-${kind}/restore`, {
          body: { backup: backup.id, confirm },
        });
        assert.equal(res.status, 400, confirm);
        assert.equal(res.body.details[0].field, 'confirm');
      }
      assert.equal((await sql(a, "SELECT to_regclass('items') AS t"))[0]?.['t'], null, 'untouched');
      const res = await api.request('POST', `/api/addons/pg-a-${kind}/restore`, {
        body: { backup: backup.id, confirm: 'shop' },
        token: shopToken,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.addon, `pg-a-${kind}`);
      assert.equal(res.body.backup.name, 'b001');
      assert.deepEqual(await rows(a), before);
      assert.equal(before.length, 100);
    });

    it('restores a backup of one add-on into another', async () => {
      const [backup] = (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body;
      const res = await api.request('POST', `/api/addons/pg-b-${kind}/restore`, {
        body: { backup: backup.id, confirm: `pg-b-${kind}` },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(await rows(b), await rows(a));
    });

    it('refuses redis add-ons and backups of redis', async () => {
      const redis = `redis-${kind}`;
      assert.equal((await api.request('POST', `/api/addons/${redis}/backups`)).status, 400);
      const [backup] = (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body;
      const intoRedis = await api.request('POST', `/api/addons/${redis}/restore`, {
        body: { backup: backup.id, confirm: 'shop' },
      });
      assert.equal(intoRedis.status, 400);
      assert.match(intoRedis.body.message, /redis add-on: backups are for postgres add-ons/);
      const addon = await api.dataSource.manager.findOneByOrFail(Addon, { name: redis });
      const redisBackup = api.dataSource.manager.create(AddonBackup, {
        id: randomUUID(),
        addonId: addon.id,
        addonName: redis,
        addonType: 'redis',
        number: 1,
        state: 'succeeded',
        digest: backup.digest,
        size: backup.size,
        trigger: 'manual',
        error: null,
        finishedAt: null,
      });
      await api.dataSource.manager.insert(AddonBackup, redisBackup);
      const ofRedis = await api.request('POST', `/api/addons/pg-a-${kind}/restore`, {
        body: { backup: redisBackup.id, confirm: 'shop' },
      });
      assert.equal(ofRedis.status, 400);
      assert.equal(ofRedis.body.details[0].field, 'backup');
      await api.dataSource.manager.delete(AddonBackup, { id: redisBackup.id });
      const bad = await api.request('POST', `/api/addons/pg-a-${kind}/restore`, {
        body: { backup: 'b001', confirm: 'shop' },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.details[0].field, 'backup');
    });

    it('takes one capture of an add-on at a time', async () => {
      const addon = await api.dataSource.manager.findOneByOrFail(Addon, { name: `pg-b-${kind}` });
      const running = api.dataSource.manager.create(AddonBackup, {
        id: randomUUID(),
        addonId: addon.id,
        addonName: addon.name,
        addonType: 'postgres',
        number: 1,
        state: 'running',
        digest: null,
        size: null,
        trigger: 'manual',
        error: null,
        finishedAt: null,
      });
      await api.dataSource.manager.insert(AddonBackup, running);
      const again = await api.request('POST', `/api/addons/${addon.name}/backups`);
      assert.equal(again.status, 409);
      assert.equal(again.body.message, `b001 of ${addon.name} is still running`);
      assert.equal((await api.request('DELETE', `/api/backups/${running.id}`)).status, 409);
      const download = await api.request('GET', `/api/backups/${running.id}/download`);
      assert.equal(download.status, 422);
      // one left running by an api that died long ago is failed by the next capture
      await api.dataSource.manager.update(
        AddonBackup,
        { id: running.id },
        { createdAt: new Date(Date.now() - 86_400_000) },
      );
      const next = await capture(addon.name);
      assert.equal(next.name, 'b002');
      assert.equal(next.state, 'succeeded', next.error ?? '');
      const stale = await api.dataSource.manager.findOneByOrFail(AddonBackup, { id: running.id });
      assert.equal(stale.state, 'failed');
      assert.match(stale.error ?? '', /^interrupted/);
      for (const id of [running.id, next.id])
        assert.equal((await api.request('DELETE', `/api/backups/${id}`)).status, 200);
    });

    it("keeps other apps' tokens out", async () => {
      const [backup] = (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body;
      for (const [method, path] of [
        ['GET', `/api/addons/pg-a-${kind}/backups`],
        ['POST', `/api/addons/pg-a-${kind}/backups`],
        ['GET', `/api/backups/${backup.id}/download`],
        ['DELETE', `/api/backups/${backup.id}`],
        ['GET', '/api/addons/no-such-addon/backups'],
      ] as const) {
        const res = await api.request(method, path, { token: thirdToken });
        assert.equal(res.status, 404, `${method} ${path}`);
      }
      // nor into another's add-on with a backup it may read
      const res = await api.request('POST', `/api/addons/pg-b-${kind}/restore`, {
        body: { backup: backup.id, confirm: 'other' },
        token: shopToken,
      });
      assert.equal(res.status, 404);
      assert.equal((await api.request('GET', '/api/addons/no-such-addon/backups')).status, 404);
    });

    it('sets the daily schedule, which the leader keeps once a day', async () => {
      const path = `/api/addons/pg-a-${kind}/backups/schedule`;
      for (const hour of [24, -1, 1.5, '3', undefined]) {
        const res = await api.request('PUT', path, { body: hour === undefined ? {} : { hour } });
        assert.equal(res.status, 400, String(hour));
        assert.equal(res.body.details[0].field, 'hour');
      }
      const hour = new Date().getUTCHours();
      if (hour < 23) {
        await api.request('PUT', path, { body: { hour: hour + 1 } });
        assert.equal(await service.scheduledRound(), 0, 'before its hour');
      }
      const set = await api.request('PUT', path, { body: { hour }, token: shopToken });
      assert.equal(set.status, 200, set.text);
      assert.deepEqual(set.body, { addon: `pg-a-${kind}`, hour });
      const scheduled = async (): Promise<{ name: string; state: string }[]> =>
        (await api.request('GET', `/api/addons/pg-a-${kind}/backups`)).body.filter(
          (x: { trigger: string }) => x.trigger === 'scheduled',
        );
      // the days before: as many scheduled backups as are kept, the oldest first
      const addon = await api.dataSource.manager.findOneByOrFail(Addon, { name: `pg-a-${kind}` });
      const store = await service.store();
      const days: AddonBackup[] = [];
      for (let day = SCHEDULED_KEPT; day >= 1; day--) {
        const blob = await store.writeBytes(`day ${day} of ${kind}`);
        const row = api.dataSource.manager.create(AddonBackup, {
          id: randomUUID(),
          addonId: addon.id,
          addonName: addon.name,
          addonType: 'postgres',
          number: 100 - day,
          state: 'succeeded',
          digest: blob.digest,
          size: blob.size,
          trigger: 'scheduled',
          error: null,
          finishedAt: null,
        });
        await api.dataSource.manager.insert(AddonBackup, row);
        await api.dataSource.manager.update(
          AddonBackup,
          { id: row.id },
          { createdAt: new Date(Date.now() - day * 86_400_000) },
        );
        days.push(row);
      }
      // today's first try failed two hours ago: tried again, and a failure pushes no good one out
      const failed = api.dataSource.manager.create(AddonBackup, {
        ...days[0],
        id: randomUUID(),
        number: 100,
        state: 'failed',
        digest: null,
        size: null,
        error: 'pg_dump: connection refused',
      });
      await api.dataSource.manager.insert(AddonBackup, failed);
      await api.dataSource.manager.update(
        AddonBackup,
        { id: failed.id },
        { createdAt: new Date(Date.now() - 7_200_000) },
      );
      assert.equal(await service.scheduledRound(), 1);
      await service.settled();
      const after = await scheduled();
      assert.deepEqual(
        after.map((x) => [x.name, x.state]),
        [...days.slice(1).map((d) => [`b0${d.number}`, 'succeeded']), ['b101', 'succeeded']],
        'the newest good ones kept, the failure since the last good one gone once a newer one succeeded',
      );
      assert.equal(after.length, SCHEDULED_KEPT);
      assert.equal(await store.has(days[0]?.digest as Digest), false, "the oldest's dump is gone");
      assert.equal(await store.has(days[1]?.digest as Digest), true);
      // once today's is taken, no other today
      assert.equal(await service.scheduledRound(), 0);
      assert.equal((await scheduled()).length, SCHEDULED_KEPT);
      const off = await api.request('PUT', path, { body: { hour: null } });
      assert.deepEqual(off.body, { addon: `pg-a-${kind}`, hour: null });
      assert.equal((await api.dataSource.manager.findOneByOrFail(Addon, { name: `pg-a-${kind}` })).backupHour, null);
    });

    it('keeps the backups of a destroyed add-on until they are deleted', async () => {
      const name = `pg-a-${kind}`;
      const addon = await api.dataSource.manager.findOneByOrFail(Addon, { name });
      const kept = (await api.request('GET', `/api/addons/${name}/backups`)).body;
      // as the add-ons module does once its node removed the volume
      await api.dataSource.manager.delete(AddonAttachment, { addonId: addon.id });
      await api.dataSource.manager.delete(Addon, { id: addon.id });
      const list = await api.request('GET', `/api/addons/${name}/backups`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((x: { id: string }) => x.id),
        kept.map((x: { id: string }) => x.id),
      );
      assert.equal((await api.request('GET', `/api/addons/${name}/backups`, { token: shopToken })).status, 404);
      const store = join(api.root, 'platform', 'backups', 'blobs', 'sha256');
      for (const backup of kept) {
        const res = await api.request('DELETE', `/api/backups/${backup.id}`);
        assert.equal(res.status, 200, res.text);
        if (backup.digest) {
          const shared = kept.some(
            (x: { id: string; digest: string }) => x.id !== backup.id && x.digest === backup.digest,
          );
          // the same bytes may be another backup's, deleted later in this loop
          if (!shared) assert.ok(!existsSync(join(store, backup.digest.slice(7))), backup.name);
        }
        assert.equal((await api.request('DELETE', `/api/backups/${backup.id}`)).status, 404);
      }
      assert.equal((await api.request('GET', `/api/addons/${name}/backups`)).status, 404);
    });
  });
}
