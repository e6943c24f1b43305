import { Node, issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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
          overcommit: 100,
          state: 'up',
          lastHeartbeatAt: b.lastHeartbeatAt,
          createdAt: undefined,
        },
      );
      assert.equal((await api.request('GET', '/api/nodes', { token: null })).status, 401);
    });

    it('refuses a malformed heartbeat with 400, naming the field of the instance that is wrong, and records nothing', async () => {
      const node = await insertNode(api, 'node-c');
      const earlier = '2026-01-01T00:00:00.000Z';
      await api.dataSource.manager.update(Node, { id: node.id }, { lastHeartbeatAt: earlier });
      const report = {
        id: randomUUID(),
        releaseId: randomUUID(),
        state: 'up',
        containerId: 'c0ffee',
        address: '10.0.0.2:32768',
        pid: 42,
        memoryBytes: null,
        restartCount: 0,
        error: null,
      };
      const { id: _id, ...withoutId } = report;
      // [what, instances, the one field that is wrong, a rule it breaks]
      const cases: [string, unknown, string, string][] = [
        ['a bad state', [{ ...report, state: 'running' }], 'instances.0.state', 'isIn'],
        ['a missing id', [report, withoutId], 'instances.1.id', 'matches'],
        ['a non-array', report, 'instances', 'isArray'],
        ['a negative pid', [{ ...report, pid: -1 }], 'instances.0.pid', 'min'],
        ['an unknown field', [{ ...report, cpu: 1 }], 'instances.0.cpu', 'unknownField'],
      ];
      for (const [what, instances, field, rule] of cases) {
        const res = await api.request('POST', '/api/nodes/node-c/heartbeat', { body: { instances } });
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(res.body.code, 'invalid_params', what);
        const details = res.body.details as { field: string; rule: string }[];
        assert.deepEqual([...new Set(details.map((d) => d.field))], [field], what);
        assert.ok(
          details.some((d) => d.rule === rule),
          `${what}: ${res.text}`,
        );
        assert.match(res.body.message, new RegExp(field.split('.').at(-1) ?? ''), what);
      }
      const stored = await api.dataSource.manager.findOneByOrFail(Node, { id: node.id });
      assert.equal(new Date(stored.lastHeartbeatAt ?? 0).toISOString(), earlier, 'no heartbeat was recorded');
    });
  });
}
