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
        'state',
        'type',
        'updatedAt',
      ]);
    });
  });
}
