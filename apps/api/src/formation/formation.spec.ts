import { type App, Formation, Node } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

/** What a new process type gets: the default size, nothing up or waiting yet. */
const BASIC = {
  size: 'basic',
  memory: 256,
  cpuShares: 512,
  cpuQuota: null,
  up: 0,
  waiting: 0,
  waitingReason: null,
  autoscale: null,
  sleeping: false,
};

for (const kind of TEST_DATABASES) {
  describe(`formation on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/fm/formation';
    const rows = async (): Promise<Array<[string, number, string, number, number, number | null]>> =>
      (await api.dataSource.manager.find(Formation, { where: { appId: app.id }, order: { type: 'ASC' } })).map((f) => [
        f.type,
        f.quantity,
        f.size,
        f.memory,
        f.cpuShares,
        f.cpuQuota,
      ]);
    before(async () => {
      // the formation as the api keeps it: no scheduler acting on it meanwhile (pass.spec covers what it writes)
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off' });
      app = await createApp(api, 'fm');
    });
    after(async () => {
      await api?.close();
    });

    it('is empty, and nothing can be scaled, before the first release', async () => {
      assert.deepEqual((await api.request('GET', path)).body, []);
      const res = await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 1 }] } });
      assert.equal(res.status, 422);
      assert.equal(res.body.code, 'unprocessable');
      assert.match(res.body.message, /no release yet/);
    });

    it("lists the release's process types with their commands: web at 1, others at 0", async () => {
      await deployRelease(api, app, {
        processTypes: { web: 'node web.js', worker: 'node worker.js', release: 'node migrate.js' },
      });
      const res = await api.request('GET', path);
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.map(({ updatedAt, ...rest }: { updatedAt: string }) => (assert.ok(Date.parse(updatedAt)), rest)),
        [
          { ...BASIC, type: 'web', quantity: 1, command: 'node web.js' },
          { ...BASIC, type: 'worker', quantity: 0, command: 'node worker.js' },
        ],
      );
      const web = await api.request('GET', `${path}/web`);
      assert.equal(web.status, 200);
      assert.equal(web.body.command, 'node web.js', JSON.stringify(web.body));
      assert.equal((await api.request('GET', `${path}/nosuch`)).status, 404);
    });

    it("scales in Heroku's batch shape and says so in the app log", async () => {
      const res = await api.request('PATCH', path, {
        body: {
          updates: [
            { type: 'web', quantity: 3 },
            { type: 'worker', quantity: 2, size: 'standard-2x' },
          ],
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        res.body.map((f: { type: string; quantity: number }) => [f.type, f.quantity]),
        [
          ['web', 3],
          ['worker', 2],
        ],
      );
      assert.deepEqual(await rows(), [
        ['web', 3, 'basic', 256, 512, null],
        ['worker', 2, 'standard-2x', 1024, 2048, null],
      ]);
      assert.equal((await apiLogLines(api, app.id)).at(-1), 'Scaled to web@3:basic worker@2:standard-2x by admin');
    });

    it('scales one type in the single shape, keeping what is not given', async () => {
      const res = await api.request('PATCH', `${path}/worker`, { body: { quantity: 0 } });
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.type, res.body.quantity, res.body.size], ['worker', 0, 'standard-2x']);
      // a memory amount is a custom size, or the named one of that memory
      const memory = await api.request('PATCH', `${path}/web`, { body: { memory: 300 } });
      assert.deepEqual([memory.body.quantity, memory.body.size, memory.body.memory], [3, '300M', 300]);
      const named = await api.request('PATCH', `${path}/web`, { body: { size: '256M' } });
      assert.deepEqual([named.body.size, named.body.cpuShares], ['basic', 512]);
      const nano = await api.request('PATCH', `${path}/web`, { body: { size: 'nano' } });
      assert.deepEqual([nano.body.memory, nano.body.cpuShares, nano.body.cpuQuota], [32, 64, 250]);
      await api.request('PATCH', `${path}/web`, { body: { size: 'basic' } });
      const lines = await apiLogLines(api, app.id);
      await api.request('PATCH', `${path}/web`, { body: { quantity: 3 } });
      assert.equal((await apiLogLines(api, app.id)).length, lines.length, 'no change, no log line');
    });

    it('answers 422 for a type the current release does not have, changing nothing', async () => {
      const before = await rows();
      for (const type of ['clock', 'release']) {
        const batch = await api.request('PATCH', path, {
          body: {
            updates: [
              { type: 'web', quantity: 5 },
              { type, quantity: 1 },
            ],
          },
        });
        assert.equal(batch.status, 422, type);
        assert.match(batch.body.message, new RegExp(`'${type}'.*v1 has web, worker`));
        assert.equal((await api.request('PATCH', `${path}/${type}`, { body: { quantity: 1 } })).status, 422);
      }
      assert.deepEqual(await rows(), before);
    });

    it('validates bounds, types and shapes with the field named', async () => {
      const before = await rows();
      const cases: Array<[unknown, string, string]> = [
        [{ updates: [{ type: 'web', quantity: 10_001 }] }, 'updates.0.quantity', 'max'],
        [{ updates: [{ type: 'web', quantity: -1 }] }, 'updates.0.quantity', 'min'],
        [{ updates: [{ type: 'web', quantity: 1.5 }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', quantity: '3' }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', quantity: null }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', memory: 15 }] }, 'updates.0.memory', 'min'],
        [{ updates: [{ type: 'web', memory: 65537 }] }, 'updates.0.memory', 'max'],
        [{ updates: [{ type: 'web', cpu: 1000 }] }, 'updates.0.cpu', 'unknownField'],
        [{ updates: [{ type: 'web', size: 'xl' }] }, 'updates.0.size', 'isSize'],
        [{ updates: [{ type: 'web', size: '15M' }] }, 'updates.0.size', 'isSize'],
        [{ updates: [{ type: 'web', size: 512 }] }, 'updates.0.size', 'isString'],
        [{ updates: [{ type: 'web', size: 'x'.repeat(33) }] }, 'updates.0.size', 'maxLength'],
        [{ updates: [{ type: 'Web', quantity: 1 }] }, 'updates.0.type', 'matches'],
        [{ updates: [{ quantity: 1 }] }, 'updates.0.type', 'isString'],
        [{ updates: [] }, 'updates', 'arrayMinSize'],
        [{ updates: {} }, 'updates', 'isArray'],
        [{}, 'updates', 'isArray'],
        [{ updates: [{ type: 'web', quantity: 1 }], extra: 1 }, 'extra', 'unknownField'],
        [
          {
            updates: [
              { type: 'web', quantity: 1 },
              { type: 'web', quantity: 2 },
            ],
          },
          'updates',
          'uniqueType',
        ],
      ];
      for (const [body, field, rule] of cases) {
        const res = await api.request('PATCH', path, { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(
          res.body.details.some((d: { field: string; rule: string }) => d.field === field && d.rule === rule),
          `${JSON.stringify(body)}: ${JSON.stringify(res.body.details)}`,
        );
      }
      for (const body of [
        { quantity: 10_001 },
        { quantity: 'x' },
        { type: 'web' },
        { quantity: null },
        { size: 'l' },
      ]) {
        assert.equal((await api.request('PATCH', `${path}/web`, { body })).status, 400, JSON.stringify(body));
      }
      assert.equal((await api.request('PATCH', `${path}/Bad!`, { body: { quantity: 1 } })).status, 400);
      const both = await api.request('PATCH', `${path}/web`, { body: { size: 'basic', memory: 256 } });
      assert.equal(both.status, 400);
      assert.match(both.body.message, /size or memory, not both/);
      const unknown = await api.request('PATCH', `${path}/web`, { body: { size: 'xl' } });
      assert.match(unknown.body.message, /size must be a size: nano, micro, basic, standard-1x/);
      assert.deepEqual(await rows(), before);
    });

    it('refuses more than the nodes could ever hold, with the largest count; waits without nodes', async () => {
      const before = await rows();
      const node = { id: '00000000-0000-4000-8000-0000000000f1', name: 'fm-node', address: '10.0.0.9' };
      await api.dataSource.manager.insert(Node, { ...node, memory: 1024, cpus: 2000, overcommit: 150, state: 'up' });
      try {
        // 1024 MiB x 1.5 holds 6 of 256 MiB, 1 of 1 GiB
        const res = await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 7 }] } });
        assert.equal(res.status, 422, res.text);
        assert.match(res.body.message, /web=7:basic is more than the nodes could ever hold: at most 6 of 256 MiB/);
        assert.deepEqual(res.body.details, [{ field: 'quantity', rule: 'capacity', message: 'at most 6' }]);
        const big = await api.request('PATCH', `${path}/worker`, { body: { quantity: 2, size: 'standard-2x' } });
        assert.equal(big.status, 422);
        assert.match(big.body.message, /at most 1 of 1024 MiB/);
        assert.deepEqual(await rows(), before);
        const ok = await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 6 }] } });
        assert.equal(ok.status, 200, ok.text);
        // a node down for a moment still counts: the answer does not flap with heartbeats
        await api.dataSource.manager.update(Node, { id: node.id }, { state: 'down' });
        assert.equal(
          (await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 6 }] } })).status,
          200,
        );
        assert.equal(
          (await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 7 }] } })).status,
          422,
        );
      } finally {
        await api.dataSource.manager.delete(Node, { id: node.id });
      }
      // no node at all: nothing to measure by, the instances wait for one
      const many = await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 50 }] } });
      assert.equal(many.status, 200, many.text);
      await api.request('PATCH', path, { body: { updates: [{ type: 'web', quantity: 3 }] } });
    });

    it('turns autoscale on and off, says so, and shows it with the formation', async () => {
      const settings = { min: 0, max: 5, concurrency: 20, idle: '15m' };
      const on = await api.request('PUT', `${path}/web/autoscale`, { body: settings });
      assert.equal(on.status, 200, on.text);
      assert.deepEqual(on.body.autoscale, { ...settings, idleMs: 900_000, hardLimit: null });
      assert.equal(on.body.quantity, 3, 'between min and max: kept');
      assert.equal(on.body.sleeping, false);
      assert.equal(
        (await apiLogLines(api, app.id)).at(-1),
        'Autoscale of web set to 0..5, 20 per instance, idle 15m by admin',
      );
      // the scheduler scales it to zero when idle: it sleeps
      await api.dataSource.manager.update(Formation, { appId: app.id, type: 'web' }, { quantity: 0 });
      assert.equal((await api.request('GET', `${path}/web`)).body.sleeping, true);
      const off = await api.request('DELETE', `${path}/web/autoscale`);
      assert.equal(off.status, 200, off.text);
      assert.deepEqual([off.body.autoscale, off.body.sleeping, off.body.quantity], [null, false, 1]);
      assert.equal((await apiLogLines(api, app.id)).at(-1), 'Autoscale of web turned off by admin; it stays at 1');
      // a quantity above max comes down to it
      await api.request('PATCH', `${path}/web`, { body: { quantity: 4 } });
      // with autoscale on, a manual scale is refused (a resize that keeps the quantity is not)
      await api.request('PUT', `${path}/web/autoscale`, { body: settings });
      for (const [method, url, body] of [
        ['PATCH', `${path}/web`, { quantity: 2 }],
        ['PATCH', path, { updates: [{ type: 'web', quantity: 2 }] }],
      ] as const) {
        const refused = await api.request(method, url, { body });
        assert.equal(refused.status, 422, refused.text);
        assert.deepEqual(refused.body.details, [
          {
            field: 'quantity',
            rule: 'autoscale',
            message: "autoscale sets web's quantity; ps:autoscale:disable web first",
          },
        ]);
      }
      const resized = await api.request('PATCH', `${path}/web`, { body: { quantity: 4, size: 'basic' } });
      assert.equal(resized.status, 200, resized.text);
      assert.equal((await api.request('GET', `${path}/web`)).body.quantity, 4);
      await api.request('DELETE', `${path}/web/autoscale`);
      const capped = await api.request('PUT', `${path}/web/autoscale`, { body: { ...settings, min: 1, max: 2 } });
      assert.equal(capped.body.quantity, 2);
      await api.request('DELETE', `${path}/web/autoscale`);
      // with a hard limit: stored, shown and said; gone with autoscale
      const hard = await api.request('PUT', `${path}/web/autoscale`, { body: { ...settings, hardLimit: 25 } });
      assert.equal(hard.status, 200, hard.text);
      assert.equal(hard.body.autoscale.hardLimit, 25);
      assert.equal(
        (await apiLogLines(api, app.id)).at(-1),
        'Autoscale of web set to 0..5, 20 per instance, hard limit 25, idle 15m by admin',
      );
      const row = await api.dataSource.manager.findOneByOrFail(Formation, { appId: app.id, type: 'web' });
      assert.equal(row.autoscaleHardLimit, 25);
      await api.request('DELETE', `${path}/web/autoscale`);
      const cleared = await api.dataSource.manager.findOneByOrFail(Formation, { appId: app.id, type: 'web' });
      assert.equal(cleared.autoscaleHardLimit, null);
      await api.request('PATCH', `${path}/web`, { body: { quantity: 3 } });
    });

    it('refuses bad autoscale settings with the field named, changing nothing', async () => {
      const before = await rows();
      const good = { min: 0, max: 5, concurrency: 20, idle: '15m' };
      const cases: Array<[string, object, number, string]> = [
        ['web', { ...good, min: 3, max: 2 }, 422, 'min'],
        ['web', { ...good, concurrency: 0 }, 400, 'concurrency'],
        ['web', { ...good, concurrency: -5 }, 400, 'concurrency'],
        ['web', { ...good, max: 10_001 }, 400, 'max'],
        ['web', { ...good, idle: '15 minutes' }, 400, 'idle'],
        ['web', { ...good, idle: '10ms' }, 422, 'idle'],
        ['web', { ...good, idle: 15 }, 400, 'idle'],
        ['web', { min: 0, max: 5, concurrency: 20 }, 400, 'idle'],
        ['web', { ...good, hardLimit: 19 }, 422, 'hardLimit'],
        ['web', { ...good, hardLimit: 0 }, 400, 'hardLimit'],
        ['web', { ...good, hardLimit: 2.5 }, 400, 'hardLimit'],
        ['web', { ...good, hardLimit: '40' }, 400, 'hardLimit'],
        ['web', { ...good, hardLimit: 10_001 }, 400, 'hardLimit'],
        ['clock', good, 422, 'type'],
        ['release', good, 422, 'type'],
        // stored but never acted on: refused
        ['worker', good, 422, 'type'],
      ];
      for (const [type, body, status, field] of cases) {
        const res = await api.request('PUT', `${path}/${type}/autoscale`, { body });
        assert.equal(res.status, status, `${type} ${JSON.stringify(body)}: ${res.text}`);
        assert.ok(
          res.body.details?.some((d: { field: string }) => d.field === field),
          `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`,
        );
      }
      assert.equal((await api.request('PUT', `${path}/Bad!/autoscale`, { body: good })).status, 400);
      // max above what the nodes could ever hold
      const node = { id: '00000000-0000-4000-8000-0000000000f2', name: 'fm-node2', address: '10.0.0.8' };
      await api.dataSource.manager.insert(Node, { ...node, memory: 1024, cpus: 2000, overcommit: 100, state: 'up' });
      try {
        const res = await api.request('PUT', `${path}/web/autoscale`, { body: { ...good, max: 5 } });
        assert.equal(res.status, 422, res.text);
        assert.deepEqual(res.body.details, [{ field: 'max', rule: 'capacity', message: 'at most 4' }]);
      } finally {
        await api.dataSource.manager.delete(Node, { id: node.id });
      }
      assert.deepEqual(await rows(), before);
      const web = await api.request('GET', `${path}/web`);
      assert.equal(web.body.autoscale, null);
    });
  });
}
