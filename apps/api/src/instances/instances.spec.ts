import { Instance } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`instances on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      // rows written by hand here: no scheduler acting on them (scheduler.spec.ts covers it)
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off' });
    });
    after(async () => {
      await api?.close();
    });

    it('is empty until the scheduler places instances', async () => {
      await createApp(api, 'empty');
      const res = await api.request('GET', '/api/apps/empty/instances');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, []);
    });

    it('lists the instances the scheduler recorded, by type and number, with release and node', async () => {
      const app = await createApp(api, 'inst');
      const other = await createApp(api, 'other');
      const release = await deployRelease(api, app, { processTypes: { web: 'x', worker: 'y' } });
      const node = await insertNode(api, 'node-1');
      await insertInstance(api, app, release, 'worker', 1, null);
      await insertInstance(api, app, release, 'web', 2, node);
      await insertInstance(api, app, release, 'web', 1, node);
      await insertInstance(api, other, await deployRelease(api, other), 'web', 1, node);
      const res = await api.request('GET', '/api/apps/inst/instances');
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.map((i: { name: string; node: string | null }) => [i.name, i.node]),
        [
          ['web.1', 'node-1'],
          ['web.2', 'node-1'],
          ['worker.1', null],
        ],
      );
      const web1 = res.body[0];
      assert.deepEqual(web1.release, { id: release.id, version: 1 });
      assert.deepEqual(
        [web1.type, web1.number, web1.state, web1.address, web1.memoryBytes],
        ['web', 1, 'up', '10.88.0.5:5000', 1234],
      );
      assert.deepEqual(Object.keys(web1).sort(), [
        'address',
        'containerId',
        'createdAt',
        'id',
        'memoryBytes',
        'name',
        'node',
        'number',
        'release',
        'size',
        'state',
        'type',
        'updatedAt',
      ]);
    });

    it('restarts all, one type or one instance by marking them for a rolling replacement', async () => {
      const app = await createApp(api, 'rs');
      const release = await deployRelease(api, app, { processTypes: { web: 'x', worker: 'y' } });
      const node = await insertNode(api, 'node-rs');
      await insertInstance(api, app, release, 'web', 1, node);
      await insertInstance(api, app, release, 'web', 2, node);
      await insertInstance(api, app, release, 'worker', 1, node);
      const marked = async (): Promise<string[]> =>
        (await api.dataSource.manager.find(Instance, { where: { appId: app.id, replace: true } }))
          .map((i) => `${i.type}.${i.number}`)
          .sort();
      const one = await api.request('POST', '/api/apps/rs/instances/restart', { body: { process: 'web.2' } });
      assert.equal(one.status, 202, one.text);
      assert.deepEqual(
        one.body.map((i: { name: string }) => i.name),
        ['web.2'],
      );
      assert.deepEqual(await marked(), ['web.2']);
      const type = await api.request('POST', '/api/apps/rs/instances/restart', { body: { process: 'web' } });
      assert.deepEqual(
        type.body.map((i: { name: string }) => i.name),
        ['web.1', 'web.2'],
      );
      const all = await api.request('POST', '/api/apps/rs/instances/restart', { body: {} });
      assert.equal(all.body.length, 3);
      assert.deepEqual(await marked(), ['web.1', 'web.2', 'worker.1']);
    });

    it('stops one instance: it leaves, and nothing else changes', async () => {
      const app = await createApp(api, 'st');
      const release = await deployRelease(api, app, { processTypes: { web: 'x' } });
      const node = await insertNode(api, 'node-st');
      const web1 = await insertInstance(api, app, release, 'web', 1, node);
      const web2 = await insertInstance(api, app, release, 'web', 2, node);
      const res = await api.request('POST', '/api/apps/st/instances/web.2/stop');
      assert.equal(res.status, 202, res.text);
      assert.deepEqual([res.body.name, res.body.state], ['web.2', 'stopping']);
      const rows = await api.dataSource.manager.find(Instance, { where: { appId: app.id }, order: { number: 'ASC' } });
      assert.deepEqual(
        rows.map((i) => [i.id, i.desired]),
        [
          [web1.id, 'run'],
          [web2.id, 'stop'],
        ],
      );
      // stopped already: it is no longer a running instance
      assert.equal((await api.request('POST', '/api/apps/st/instances/web.2/stop')).status, 404);
    });

    it('answers bad restart and stop requests with what is wrong, changing nothing', async () => {
      const app = await createApp(api, 'bad');
      const release = await deployRelease(api, app, { processTypes: { web: 'x' } });
      await insertInstance(api, app, release, 'web', 1, await insertNode(api, 'node-bad'));
      const restart = (body: unknown) => api.request('POST', '/api/apps/bad/instances/restart', { body });
      const cases: Array<[unknown, number, RegExp]> = [
        [{ process: 'Web' }, 400, /process must be TYPE or TYPE.N/],
        [{ process: 'web.x' }, 400, /process must be TYPE or TYPE.N/],
        [{ process: 'web.' }, 400, /process must be TYPE or TYPE.N/],
        [{ process: 7 }, 400, /process must be a string/],
        [{ process: 'x'.repeat(41) }, 400, /process must be shorter/],
        [{ process: 'worker' }, 404, /no running worker instances on bad/],
        [{ process: 'web.9' }, 404, /no running instance web.9 on bad/],
        [{ other: 1 }, 400, /other/],
        [[], 400, /object/],
      ];
      for (const [body, status, message] of cases) {
        const res = await restart(body);
        assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
        assert.match(res.body.message, message, JSON.stringify(body));
      }
      for (const [name, status] of [
        ['web', 400],
        ['web.7', 404],
        ['web.1x', 400],
      ] as const) {
        const res = await api.request('POST', `/api/apps/bad/instances/${name}/stop`);
        assert.equal(res.status, status, `${name}: ${res.text}`);
      }
      assert.equal((await api.request('POST', '/api/apps/nosuch/instances/restart', { body: {} })).status, 404);
      const rows = await api.dataSource.manager.find(Instance, { where: { appId: app.id } });
      assert.deepEqual(
        rows.map((i) => [i.desired, i.replace]),
        [['run', false]],
      );
    });
  });
}
