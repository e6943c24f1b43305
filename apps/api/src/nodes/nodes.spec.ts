import { issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`nodes on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
    });
    after(async () => {
      await api?.close();
    });

    it('lists the nodes by name, to any token', async () => {
      assert.deepEqual((await api.request('GET', '/api/nodes')).body, []);
      const b = await insertNode(api, 'node-b');
      await insertNode(api, 'node-a');
      const { token } = await issueToken(api.dataSource.manager, { name: 'viewer', apps: [] });
      const res = await api.request('GET', '/api/nodes', { token });
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.map((n: { name: string }) => n.name),
        ['node-a', 'node-b'],
      );
      const shown = res.body[1];
      assert.deepEqual(
        { ...shown, createdAt: undefined },
        {
          id: b.id,
          name: 'node-b',
          address: '127.0.0.1:7100',
          memory: 4096,
          cpus: 2000,
          state: 'up',
          lastHeartbeatAt: b.lastHeartbeatAt,
          createdAt: undefined,
        },
      );
      assert.equal((await api.request('GET', '/api/nodes', { token: null })).status, 401);
    });
  });
}
