import { type App, Formation } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

for (const kind of TEST_DATABASES) {
  describe(`formation on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/fm/formation';
    const rows = async (): Promise<Array<[string, number, number, number]>> =>
      (await api.dataSource.manager.find(Formation, { where: { appId: app.id }, order: { type: 'ASC' } })).map((f) => [
        f.type,
        f.quantity,
        f.memory,
        f.cpu,
      ]);
    before(async () => {
      api = await startTestApi(kind);
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
          { type: 'web', quantity: 1, memory: 512, cpu: 1000, command: 'node web.js' },
          { type: 'worker', quantity: 0, memory: 512, cpu: 1000, command: 'node worker.js' },
        ],
      );
      const web = await api.request('GET', `${path}/web`);
      assert.equal(web.status, 200);
      assert.equal(web.body.command, 'node web.js');
      assert.equal((await api.request('GET', `${path}/nosuch`)).status, 404);
    });

    it("scales in Heroku's batch shape and says so in the app log", async () => {
      const res = await api.request('PATCH', path, {
        body: {
          updates: [
            { type: 'web', quantity: 3 },
            { type: 'worker', quantity: 2, memory: 1024, cpu: 500 },
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
        ['web', 3, 512, 1000],
        ['worker', 2, 1024, 500],
      ]);
      assert.equal((await apiLogLines(api, app.id)).at(-1), 'Scaled to web@3:512M worker@2:1024M by admin');
    });

    it('scales one type in the single shape, keeping what is not given', async () => {
      const res = await api.request('PATCH', `${path}/worker`, { body: { quantity: 0 } });
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.type, res.body.quantity, res.body.memory, res.body.cpu], ['worker', 0, 1024, 500]);
      const memory = await api.request('PATCH', `${path}/web`, { body: { memory: 256 } });
      assert.deepEqual([memory.body.quantity, memory.body.memory], [3, 256]);
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
        [{ updates: [{ type: 'web', quantity: 101 }] }, 'updates.0.quantity', 'max'],
        [{ updates: [{ type: 'web', quantity: -1 }] }, 'updates.0.quantity', 'min'],
        [{ updates: [{ type: 'web', quantity: 1.5 }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', quantity: '3' }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', quantity: null }] }, 'updates.0.quantity', 'isInt'],
        [{ updates: [{ type: 'web', memory: 15 }] }, 'updates.0.memory', 'min'],
        [{ updates: [{ type: 'web', memory: 65537 }] }, 'updates.0.memory', 'max'],
        [{ updates: [{ type: 'web', cpu: 9 }] }, 'updates.0.cpu', 'min'],
        [{ updates: [{ type: 'web', cpu: 64001 }] }, 'updates.0.cpu', 'max'],
        [{ updates: [{ type: 'Web', quantity: 1 }] }, 'updates.0.type', 'matches'],
        [{ updates: [{ quantity: 1 }] }, 'updates.0.type', 'isString'],
        [{ updates: [{ type: 'web', quantity: 1, size: 'xl' }] }, 'updates.0.size', 'unknownField'],
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
      for (const body of [{ quantity: 101 }, { quantity: 'x' }, { type: 'web' }, { quantity: null }]) {
        assert.equal((await api.request('PATCH', `${path}/web`, { body })).status, 400, JSON.stringify(body));
      }
      assert.equal((await api.request('PATCH', `${path}/Bad!`, { body: { quantity: 1 } })).status, 400);
      assert.deepEqual(await rows(), before);
    });
  });
}
