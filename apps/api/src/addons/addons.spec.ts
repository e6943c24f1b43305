import {
  Addon,
  AddonAttachment,
  AddonBackup,
  type App,
  ConfigVar,
  Instance,
  Node,
  Release,
  appConfig,
  issueToken,
  nodeChannel,
} from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import type { Redis } from 'ioredis';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { appNamed, createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';
import { waitFor } from '../testing/wait';

const PASSWORD = /^[A-Za-z0-9_-]{32}$/;

for (const kind of TEST_DATABASES) {
  describe(`add-ons on ${kind}`, () => {
    let api: TestApi;
    let listener: Redis;
    /** What was published on the node channels, as `node: message`. */
    const woken: string[] = [];
    let shop: App;
    let small: Node;
    let big: Node;
    const config = async (app: App) => appConfig(api.dataSource.manager, app.id);
    const addonRow = (name: string) => api.dataSource.manager.findOneByOrFail(Addon, { name });
    const generation = async (node: Node) =>
      (await api.dataSource.manager.findOneByOrFail(Node, { id: node.id })).desiredGeneration;
    const releases = (app: App) =>
      api.dataSource.manager.find(Release, { where: { appId: app.id }, order: { version: 'ASC' } });

    before(async () => {
      // the scheduler off: these specs place nothing but add-ons, and read the desired sets themselves
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off', PAAS_ADDON_PORTS: '20000-20002' });
      listener = api.redis.duplicate();
      listener.on('pmessage', (_pattern: string, channel: string, message: string) =>
        woken.push(`${channel}: ${message}`),
      );
      await listener.psubscribe(nodeChannel('*'));
      shop = await createApp(api, 'shop');
      await createApp(api, 'other');
      await createApp(api, 'third');
    });
    after(async () => {
      listener?.disconnect();
      await api?.close();
    });

    it('answers 503 with the reason while no node can run add-ons', async () => {
      const none = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'postgres' } });
      assert.equal(none.status, 503, none.text);
      assert.match(none.body.message, /none is up/);
      small = await insertNode(api, 'node-small');
      const old = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'postgres' } });
      assert.equal(old.status, 503);
      assert.match(old.body.message, /no up node has a service address/);
      assert.equal(await api.dataSource.manager.count(Addon), 0);
      assert.deepEqual(await config(shop), {});
    });

    it('refuses an unknown type naming the types, bad names and sizes, with 400', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ type: 'mysql' }, 'type', /postgres, redis/],
        [{}, 'type', /postgres, redis/],
        [{ type: 'postgres', name: 'Bad_Name' }, 'name', /DNS label/],
        [{ type: 'postgres', as: '1DB' }, 'as', /upper-case letters/],
        [{ type: 'postgres', size: 'huge' }, 'size', /unknown size 'huge'/],
        [{ type: 'postgres', size: 'nano' }, 'size', /too small for an add-on/],
        [{ type: 'postgres', extra: 1 }, 'extra', /not a known field/],
      ];
      for (const [body, field, message] of cases) {
        const res = await api.request('POST', '/api/apps/shop/addons', { body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.body.details[0].field, field, JSON.stringify(body));
        assert.match(res.body.message, message, JSON.stringify(body));
      }
    });

    it('creates a postgres add-on on the node with the most free memory, attached as DATABASE in one new release', async () => {
      await api.dataSource.manager.update(Node, { id: small.id }, { serviceAddress: '10.0.0.1', memory: 1024 });
      big = await insertNode(api, 'node-big');
      await api.dataSource.manager.update(Node, { id: big.id }, { serviceAddress: '10.0.0.2' });
      // node-big has 4096 MiB but holds 3500 of instances: node-small has more left
      const release = await deployRelease(api, shop);
      const web = await insertInstance(api, shop, release, 'web', 1, big);
      await api.dataSource.manager.update(Instance, { id: web.id }, { memory: 3500 });
      const before = { small: await generation(small), big: await generation(big) };
      const versions = (await releases(shop)).length;

      const res = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'postgres' } });
      assert.equal(res.status, 201, res.text);
      const view = res.body;
      assert.match(view.name, /^postgres-[a-z]+-\d{5}$/);
      assert.match(view.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(
        { ...view, id: undefined, name: undefined, createdAt: undefined },
        {
          id: undefined,
          name: undefined,
          type: 'postgres',
          state: 'creating',
          error: null,
          node: 'node-small',
          size: 'basic',
          createdAt: undefined,
          attachments: [{ app: 'shop', name: 'DATABASE', var: 'DATABASE_URL' }],
          backups: 0,
        },
      );
      const row = await addonRow(view.name);
      assert.equal(row.port, 20000);
      assert.match(row.password, PASSWORD);
      assert.equal(row.volume, `addon-${view.name}-${row.id.slice(0, 8)}`);
      assert.deepEqual([row.memory, row.appId], [256, shop.id]);
      const vars = await config(shop);
      assert.equal(vars['DATABASE_URL'], `postgres://postgres:${row.password}@10.0.0.1:20000/postgres`);

      const after = await releases(shop);
      assert.equal(after.length, versions + 1, 'one new release');
      const made = after.at(-1) as Release;
      assert.equal(made.description, `Attach DATABASE (${view.name})`);
      assert.equal(made.config['DATABASE_URL'], vars['DATABASE_URL']);
      assert.equal(made.imageRef, release.imageRef, "the current release's image goes on");
      assert.equal(made.createdBy, 'admin');

      assert.equal(await generation(small), before.small + 1, "the add-on's node has a new set");
      assert.equal(await generation(big), before.big + 1, "node-big runs shop's instance, whose reach moved");
      await waitFor(() => woken.includes('paas:node:node-small: changed'), 'node-small is woken');
      assert.deepEqual((await apiLogLines(api, shop.id)).slice(-3), [
        `Created ${view.name} (postgres basic) on node-small by admin`,
        `Attached ${view.name} as DATABASE by admin`,
        `Release v${made.version} created by admin`,
      ]);
    });

    it('refuses a var the app has (409 naming --as) and a name in use (409); --as picks another var', async () => {
      const again = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'postgres' } });
      assert.equal(again.status, 409, again.text);
      assert.match(again.body.message, /DATABASE.*--as/);
      await api.request('PATCH', '/api/apps/shop/config-vars', { body: { REDIS_URL: 'redis://elsewhere' } });
      const redis = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'redis' } });
      assert.equal(redis.status, 409);
      assert.match(redis.body.message, /REDIS_URL set already: use --as/);

      const cache = await api.request('POST', '/api/apps/shop/addons', {
        body: { type: 'redis', name: 'shop-cache', as: 'cache' },
      });
      assert.equal(cache.status, 201, cache.text);
      assert.deepEqual(cache.body.attachments, [{ app: 'shop', name: 'CACHE', var: 'CACHE_URL' }]);
      const row = await addonRow('shop-cache');
      assert.equal(row.port, 20001, 'the port after the highest held');
      assert.equal((await config(shop))['CACHE_URL'], `redis://default:${row.password}@10.0.0.1:20001`);

      const taken = await api.request('POST', '/api/apps/other/addons', {
        body: { type: 'redis', name: 'shop-cache' },
      });
      assert.equal(taken.status, 409);
      assert.match(taken.body.message, /add-on 'shop-cache' already exists/);
      assert.equal(await api.dataSource.manager.count(Addon), 2, 'nothing half made');
      assert.equal((await config(await appNamed(api, 'other')))['REDIS_URL'], undefined);
    });

    it("lists an app's add-ons and shows one by name with its backups count", async () => {
      const list = await api.request('GET', '/api/apps/shop/addons');
      assert.equal(list.status, 200);
      assert.equal(list.body.length, 2);
      assert.equal(list.body[1].name, 'shop-cache');
      const row = await addonRow('shop-cache');
      await api.dataSource.manager.insert(AddonBackup, {
        id: randomUUID(),
        addonId: row.id,
        addonName: row.name,
        addonType: row.type,
        number: 1,
        state: 'succeeded',
        digest: null,
        size: null,
        trigger: 'manual',
        error: null,
        finishedAt: null,
      });
      const info = await api.request('GET', '/api/addons/shop-cache');
      assert.equal(info.status, 200);
      assert.equal(info.body.backups, 1);
      assert.equal((await api.request('GET', '/api/addons/nope')).status, 404);
      assert.deepEqual((await api.request('GET', '/api/apps/other/addons')).body, []);
    });

    it('attaches to another app in a new release of it, and detaches, but never the last attachment', async () => {
      const other = await appNamed(api, 'other');
      const res = await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'other' } });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.body.attachments, [
        { app: 'other', name: 'REDIS', var: 'REDIS_URL' },
        { app: 'shop', name: 'CACHE', var: 'CACHE_URL' },
      ]);
      assert.equal((await config(other))['REDIS_URL'], (await config(shop))['CACHE_URL']);
      assert.equal((await releases(other)).at(-1)?.description, 'Attach REDIS (shop-cache)');
      const twice = await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'other' } });
      assert.equal(twice.status, 409, 'REDIS is taken on other now');
      // a var of the app's own, not an add-on's, is never overwritten either
      await api.request('PATCH', '/api/apps/other/config-vars', { body: { SESSION_URL: 'redis://mine' } });
      const own = await api.request('POST', '/api/addons/shop-cache/attachments', {
        body: { app: 'other', as: 'SESSION' },
      });
      assert.equal(own.status, 409, own.text);
      assert.match(own.body.message, /SESSION_URL set already: use --as/);
      assert.equal((await config(other))['SESSION_URL'], 'redis://mine');
      const missing = await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'ghost' } });
      assert.equal(missing.status, 404);

      const detach = await api.request('DELETE', '/api/apps/shop/addons/shop-cache');
      assert.equal(detach.status, 204, detach.text);
      assert.equal((await config(shop))['CACHE_URL'], undefined);
      assert.equal((await releases(shop)).at(-1)?.description, 'Detach CACHE (shop-cache)');
      assert.equal((await addonRow('shop-cache')).appId, other.id, 'its events go to the app that has it');
      assert.match((await apiLogLines(api, shop.id)).at(-2) ?? '', /^Detached shop-cache \(CACHE\) by admin$/);

      const last = await api.request('DELETE', '/api/apps/other/addons/shop-cache');
      assert.equal(last.status, 409);
      assert.match(last.body.message, /addons:destroy shop-cache --confirm shop-cache/);
      assert.equal((await api.request('DELETE', '/api/apps/shop/addons/shop-cache')).status, 404, 'not attached');

      // two apps letting go at once: one does, the other is told it holds the last attachment
      assert.equal(
        (await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'shop', as: 'CACHE' } }))
          .status,
        201,
      );
      const both = await Promise.all(
        ['shop', 'other'].map((app) => api.request('DELETE', `/api/apps/${app}/addons/shop-cache`)),
      );
      assert.deepEqual(both.map((r) => r.status).sort(), [204, 409]);
      assert.equal(
        await api.dataSource.manager.count(AddonAttachment, { where: { addonId: (await addonRow('shop-cache')).id } }),
        1,
      );
      const stays = both[0]?.status === 204 ? 'other' : 'shop';
      if (stays === 'shop') {
        // the rest of the suite wants it on other, under REDIS
        assert.equal(
          (await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'other' } })).status,
          201,
        );
        assert.equal((await api.request('DELETE', '/api/apps/shop/addons/shop-cache')).status, 204);
      }
    });

    it('lets an app token see and change only the add-ons of its apps', async () => {
      const { token: otherOnly } = await issueToken(api.dataSource.manager, { name: 'other-ci', apps: ['other'] });
      const { token: thirdOnly } = await issueToken(api.dataSource.manager, { name: 'third-ci', apps: ['third'] });
      const shopDb = (await api.request('GET', '/api/apps/shop/addons')).body[0].name as string;
      assert.equal((await api.request('GET', '/api/addons/shop-cache', { token: otherOnly })).status, 200);
      assert.equal((await api.request('GET', `/api/addons/${shopDb}`, { token: otherOnly })).status, 404);
      assert.deepEqual(
        (await api.request('GET', '/api/addons', { token: otherOnly })).body.map((a: { name: string }) => a.name),
        ['shop-cache'],
      );
      assert.equal((await api.request('GET', '/api/apps/shop/addons', { token: otherOnly })).status, 403);
      const attach = await api.request('POST', `/api/addons/${shopDb}/attachments`, {
        body: { app: 'other' },
        token: otherOnly,
      });
      assert.equal(attach.status, 404, 'an add-on of another app is not found');
      const elsewhere = await api.request('POST', '/api/addons/shop-cache/attachments', {
        body: { app: 'third', as: 'CACHE' },
        token: otherOnly,
      });
      assert.equal(elsewhere.status, 403, 'nor attached to an app the token does not hold');
      assert.equal(
        (await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'third' }, token: thirdOnly }))
          .status,
        404,
      );
      const create = await api.request('POST', '/api/apps/shop/addons', { body: { type: 'redis' }, token: otherOnly });
      assert.equal(create.status, 403);
    });

    it("puts add-ons in their node's desired set, and the reach of attached apps in their instances' entries", async () => {
      const { token } = await issueToken(api.dataSource.manager, { name: 'agent', node: true });
      const beat = async (node: string, body: Record<string, unknown> = { instances: [] }) => {
        const res = await api.request('POST', `/api/nodes/${node}/heartbeat`, { body, token });
        assert.equal(res.status, 200, res.text);
        return res.body;
      };
      const shopDb = await addonRow((await api.request('GET', '/api/apps/shop/addons')).body[0].name);
      const cache = await addonRow('shop-cache');
      const set = await beat('node-small');
      const entries = set.instances as { id: string; env: unknown; command: unknown }[];
      const pg = entries.find((e) => e.id === shopDb.id);
      assert.deepEqual(pg, {
        id: shopDb.id,
        appId: shop.id,
        app: shopDb.name,
        type: 'postgres',
        number: 1,
        releaseId: shopDb.id,
        version: 1,
        image: 'postgres:15',
        imageDigest: null,
        command: null,
        env: {
          POSTGRES_PASSWORD: shopDb.password,
          POSTGRES_USER: 'postgres',
          POSTGRES_DB: 'postgres',
          PGDATA: '/var/lib/postgresql/data/pgdata',
        },
        size: 'basic',
        memory: 256,
        cpuShares: 512,
        cpuQuota: null,
        port: 5432,
        check: { kind: 'tcp', port: 5432, attempts: 480, timeoutMs: 2000, intervalMs: 250, initialDelayMs: 0 },
        stopTimeout: 30,
        addon: {
          name: shopDb.name,
          type: 'postgres',
          volume: shopDb.volume,
          target: '/var/lib/postgresql/data',
          hostPort: 20000,
          fresh: true,
        },
      });
      const redis = entries.find((e) => e.id === cache.id);
      assert.deepEqual([redis?.env, redis?.command], [{ REDIS_PASSWORD: cache.password }, null]);
      assert.equal(set.removeVolumes, undefined);

      const web = (await beat('node-big')).instances as { appId: string; reach?: unknown }[];
      assert.deepEqual(web.find((e) => e.appId === shop.id)?.reach, [{ address: '10.0.0.1', port: 20000 }]);

      // reports under the add-on's id update its row; its first `up` makes it fresh no more (a new
      // set, so its node never makes its volume again), later ones do not move the set
      const before = await generation(small);
      const report = {
        id: shopDb.id,
        releaseId: shopDb.id,
        state: 'up',
        containerId: 'c0ffee',
        address: null,
        pid: 42,
        memoryBytes: null,
        restartCount: 0,
        error: null,
      };
      const first = await beat('node-small', { instances: [report], full: false, desiredVersion: set.desiredVersion });
      const ready = (first.instances as { id: string; addon?: { fresh: boolean } }[]).find((e) => e.id === shopDb.id);
      assert.equal(ready?.addon?.fresh, false);
      const up = await addonRow(shopDb.name);
      assert.deepEqual([up.state, up.containerId], ['up', 'c0ffee']);
      assert.ok(up.readyAt);
      const moved = await generation(small);
      assert.ok(moved > before);
      const again = await beat('node-small', {
        instances: [{ ...report, pid: 43 }],
        full: false,
        desiredVersion: first.desiredVersion,
      });
      assert.equal(again.instances, null);
      assert.equal(await generation(small), moved, 'a later report does not move the set');
      assert.equal((await addonRow(shopDb.name)).readyAt, up.readyAt);
      await beat('node-small', {
        instances: [{ ...report, state: 'crashed', restartCount: 1, error: 'exited with code 1' }],
        full: false,
      });
      const crashed = await addonRow(shopDb.name);
      assert.deepEqual([crashed.state, crashed.restartCount, crashed.error], ['crashed', 1, 'exited with code 1']);
      assert.ok(
        (await apiLogLines(api, shop.id, 'scheduler')).includes(
          `${shopDb.name} crashed on node-small: exited with code 1`,
        ),
      );
      // a full report without it: its container is gone
      await beat('node-small', { instances: [] });
      const lost = await addonRow(shopDb.name);
      assert.deepEqual([lost.state, lost.containerId], ['creating', null]);
      // its volume is gone: failed for good with the reason; the app keeps its var
      const gone = 'add-on x: its volume addon-x is gone from this node; its data cannot be recovered here';
      await beat('node-small', {
        instances: [{ ...report, state: 'crashed', containerId: null, pid: 0, error: gone, final: true }],
        full: false,
      });
      const failed = await addonRow(shopDb.name);
      assert.deepEqual([failed.state, failed.error], ['failed', gone]);
      assert.match((await config(shop))['DATABASE_URL'] ?? '', /^postgres:\/\//);
      assert.ok(
        (await apiLogLines(api, shop.id, 'scheduler')).includes(`${shopDb.name} failed on node-small: ${gone}`),
      );
    });

    it("takes a node's service address from its registration; when it moves, the attached apps' nodes get the new reach", async () => {
      const register = (serviceAddress: unknown) =>
        api.request('POST', '/api/nodes/register', {
          body: { name: 'node-small', address: '127.0.0.1:7100', memory: 1024, cpus: 2000, serviceAddress },
        });
      for (const wrong of ['not-an-ip', 'fd00::2']) {
        const bad = await register(wrong);
        assert.equal(bad.status, 400, wrong);
        assert.equal(bad.body.details[0].field, 'serviceAddress');
      }
      const before = await generation(big);
      assert.equal((await register('10.0.0.5')).status, 201);
      assert.equal((await api.dataSource.manager.findOneByOrFail(Node, { id: small.id })).serviceAddress, '10.0.0.5');
      assert.equal(await generation(big), before + 1, 'node-big runs shop, whose add-on moved');
      const { token } = await issueToken(api.dataSource.manager, { name: 'agent-big', node: true });
      const set = await api.request('POST', '/api/nodes/node-big/heartbeat', { body: { instances: [] }, token });
      const web = set.body.instances.find((e: { appId: string }) => e.appId === shop.id);
      assert.deepEqual(web.reach, [{ address: '10.0.0.5', port: 20000 }]);
      const same = await generation(big);
      assert.equal((await register('10.0.0.5')).status, 201);
      assert.equal(await generation(big), same, 'the same address moves nothing');
      assert.equal((await register('10.0.0.1')).status, 201);
    });

    it("destroys only with its name confirmed: vars unset in every app, out of its node's set, volume removed, backups kept", async () => {
      const { token } = await issueToken(api.dataSource.manager, { name: 'agent-2', node: true });
      const other = await appNamed(api, 'other');
      for (const confirm of ['', 'nope']) {
        const res = await api.request('DELETE', `/api/addons/shop-cache${confirm ? `?confirm=${confirm}` : ''}`);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.details[0].field, 'confirm');
      }
      assert.equal((await addonRow('shop-cache')).state, 'creating');
      const { token: otherOnly } = await issueToken(api.dataSource.manager, { name: 'other-2', apps: ['other'] });
      await api.request('POST', '/api/addons/shop-cache/attachments', { body: { app: 'third' } });
      const scoped = await api.request('DELETE', '/api/addons/shop-cache?confirm=shop-cache', { token: otherOnly });
      assert.equal(scoped.status, 403, 'it is attached to third too');
      const before = await generation(small);

      const res = await api.request('DELETE', '/api/addons/shop-cache?confirm=shop-cache');
      assert.equal(res.status, 204, res.text);
      const row = await addonRow('shop-cache');
      assert.equal(row.state, 'destroying');
      assert.equal(await api.dataSource.manager.count(AddonAttachment, { where: { addonId: row.id } }), 0);
      assert.equal((await config(other))['REDIS_URL'], undefined);
      assert.equal((await config(await appNamed(api, 'third')))['REDIS_URL'], undefined);
      assert.equal((await releases(other)).at(-1)?.description, 'Detach REDIS (shop-cache)');
      assert.equal(await api.dataSource.manager.count(AddonBackup, { where: { addonId: row.id } }), 1, 'kept');
      assert.ok((await generation(small)) > before);

      const set = await api.request('POST', '/api/nodes/node-small/heartbeat', { body: { instances: [] }, token });
      assert.ok(!set.body.instances.some((e: { id: string }) => e.id === row.id), 'out of the set');
      assert.deepEqual(set.body.removeVolumes, [row.volume]);
      const removed = await api.request('POST', '/api/nodes/node-small/heartbeat', {
        body: {
          instances: [],
          full: false,
          removedVolumes: [row.volume, 'addon-unknown'],
          desiredVersion: set.body.desiredVersion,
        },
        token,
      });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(await api.dataSource.manager.count(Addon, { where: { name: 'shop-cache' } }), 0, 'its row is gone');
      // a new set without it, or the agent, holding the last one, would go on being asked
      assert.notEqual(removed.body.desiredVersion, set.body.desiredVersion);
      assert.equal(removed.body.removeVolumes, undefined);
      const bad = await api.request('POST', '/api/nodes/node-small/heartbeat', {
        body: { instances: [], removedVolumes: [7] },
        token,
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.details[0].field, 'removedVolumes.0');
    });

    it("runs out of ports with 503 naming PAAS_ADDON_PORTS; an app's destruction keeps add-ons other apps use", async () => {
      const third = await appNamed(api, 'third');
      const made = [];
      for (const [type, name, as] of [
        ['postgres', 'third-db', 'DATABASE'],
        ['redis', 'third-kv', 'REDIS'],
        ['redis', 'third-more', 'MORE'],
      ]) {
        made.push(await api.request('POST', '/api/apps/third/addons', { body: { type, name, as } }));
      }
      assert.deepEqual(
        made.map((r) => r.status),
        [201, 201, 503],
        'the range holds 3 ports, shop holds one and shop-cache gave its own back',
      );
      assert.match(made[2]?.body.message, /every add-on port is taken \(PAAS_ADDON_PORTS=20000-20002\)/);
      // the ports after the highest held (shop's 20000), in turn
      const ports = [(await addonRow('third-db')).port, (await addonRow('third-kv')).port];
      assert.deepEqual(ports, [20001, 20002]);
      const shared = await api.request('POST', '/api/addons/third-db/attachments', { body: { app: 'other' } });
      assert.equal(shared.status, 201, shared.text);
      const shopDb = (await api.request('GET', '/api/apps/shop/addons')).body[0].name as string;

      assert.equal((await api.request('DELETE', '/api/apps/third')).status, 200);
      const kept = await addonRow('third-db');
      assert.deepEqual([kept.state, kept.appId], ['creating', null], 'other still uses it');
      assert.equal((await addonRow('third-kv')).state, 'destroying', 'third alone had it');
      assert.equal(await api.dataSource.manager.count(AddonAttachment, { where: { appId: third.id } }), 0);
      assert.ok((await config(await appNamed(api, 'other')))['DATABASE_URL']);

      assert.equal((await api.request('DELETE', '/api/apps/shop')).status, 200);
      assert.equal((await addonRow(shopDb)).state, 'destroying', 'shop alone had it');
      assert.equal(await api.dataSource.manager.count(ConfigVar, { where: { appId: shop.id } }), 0);
    });

    it("fails the add-ons of a removed node, keeping their apps' config vars", async () => {
      const other = await appNamed(api, 'other');
      const refused = await api.request('DELETE', '/api/nodes/node-small');
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /holds the data of add-ons? .*third-db/);
      const web = await insertInstance(api, other, await deployRelease(api, other), 'web', 1, big);
      const before = await generation(big);
      const res = await api.request('DELETE', '/api/nodes/node-small?force=true');
      assert.equal(res.status, 200, res.text);
      assert.equal(await generation(big), before + 1, "other's instance there loses its reach to third-db");
      await api.dataSource.manager.delete(Instance, { id: web.id });
      const failed = await addonRow('third-db');
      assert.equal(failed.state, 'failed');
      assert.match(failed.error ?? '', /node-small, which held its volume, was removed/);
      assert.ok((await config(other))['DATABASE_URL'], 'the var is kept');
      const shown = (await api.request('GET', '/api/addons/third-db')).body;
      assert.deepEqual([shown.state, shown.node], ['failed', null]);
      assert.equal(
        await api.dataSource.manager.count(Addon, { where: { nodeId: small.id, state: 'destroying' } }),
        0,
        'what was being destroyed there is gone with it',
      );
      // destroying it now has no node to clean: its row goes at once
      const gone = await api.request('DELETE', '/api/addons/third-db?confirm=third-db');
      assert.equal(gone.status, 204);
      assert.equal(await api.dataSource.manager.count(Addon, { where: { name: 'third-db' } }), 0);
      assert.equal((await config(other))['DATABASE_URL'], undefined);
    });
  });
}
