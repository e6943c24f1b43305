import { App, Instance, Node, issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`nodes on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      // the scheduler off: these specs speak the protocol, and a pass would stop their instances
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off' });
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

      // the fields of deltas and of the desired set's version
      const fields: [string, Record<string, unknown>, string, string][] = [
        ['a full that is no boolean', { instances: [], full: 'no' }, 'full', 'isBoolean'],
        ['a desiredVersion that is no string', { instances: [], desiredVersion: 7 }, 'desiredVersion', 'isString'],
        ['a desiredVersion too long', { instances: [], desiredVersion: 'v'.repeat(65) }, 'desiredVersion', 'maxLength'],
        ['a gone that is no list', { instances: [], gone: randomUUID() }, 'gone', 'isArray'],
        ['a gone id that is no UUID', { instances: [], gone: [randomUUID(), 'web.1'] }, 'gone.1', 'matches'],
      ];
      for (const [what, body, field, rule] of fields) {
        const res = await api.request('POST', '/api/nodes/node-c/heartbeat', { body });
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        const details = res.body.details as { field: string; rule: string }[];
        assert.deepEqual([...new Set(details.map((d) => d.field))], [field], what);
        assert.ok(
          details.some((d) => d.rule === rule),
          `${what}: ${res.text}`,
        );
      }
      const still = await api.dataSource.manager.findOneByOrFail(Node, { id: node.id });
      assert.equal(new Date(still.lastHeartbeatAt ?? 0).toISOString(), earlier, 'no heartbeat was recorded');
    });

    it('records a delta heartbeat without touching the instances it does not name; only a full one finds a lost container', async () => {
      const node = await insertNode(api, 'node-d');
      const app = await createApp(api, 'delta');
      const release = await deployRelease(api, app);
      const [one, two] = [
        await insertInstance(api, app, release, 'web', 1, node),
        await insertInstance(api, app, release, 'web', 2, node),
      ];
      const report = (i: Instance, containerId: string) => ({
        id: i.id,
        releaseId: i.releaseId,
        state: 'up',
        containerId,
        address: i.address,
        pid: 42,
        memoryBytes: 1234,
        restartCount: 0,
        error: null,
      });
      const beat = async (body: Record<string, unknown>) => {
        const res = await api.request('POST', '/api/nodes/node-d/heartbeat', { body });
        assert.equal(res.status, 200, res.text);
      };
      const row = (i: Instance) => api.dataSource.manager.findOneByOrFail(Instance, { id: i.id });
      await beat({ instances: [report(one, 'c1'), report(two, 'c2')] });
      assert.equal((await row(one)).containerId, 'c1');

      // a delta naming only web.2's crash: web.1 is as it was reported, not lost
      await beat({ instances: [{ ...report(two, 'c2'), state: 'crashed', error: 'exited with code 1' }], full: false });
      assert.equal((await row(two)).state, 'crashed');
      assert.equal((await row(two)).error, 'exited with code 1');
      assert.deepEqual([(await row(one)).state, (await row(one)).containerId], ['up', 'c1']);
      await beat({ instances: [], full: false });
      assert.deepEqual([(await row(one)).state, (await row(one)).containerId], ['up', 'c1']);

      // a full one without web.1: its container is gone from under the agent
      await beat({ instances: [{ ...report(two, 'c2'), state: 'crashed', error: 'exited with code 1' }] });
      assert.deepEqual([(await row(one)).state, (await row(one)).containerId], ['starting', null]);
    });

    it('records the memory of an instance using more than 2 GiB', async () => {
      const node = await insertNode(api, 'node-m');
      const app = await createApp(api, 'big');
      const release = await deployRelease(api, app);
      const web = await insertInstance(api, app, release, 'web', 1, node);
      const beat = async (memoryBytes: number) => {
        const report = { id: web.id, releaseId: web.releaseId, state: 'up', containerId: 'c1', address: web.address };
        const body = { instances: [{ ...report, pid: 42, memoryBytes, restartCount: 0, error: null }] };
        const res = await api.request('POST', '/api/nodes/node-m/heartbeat', { body });
        assert.equal(res.status, 200, res.text);
        return (await api.dataSource.manager.findOneByOrFail(Instance, { id: web.id })).memoryBytes;
      };
      const threeGiB = 3 * 1024 ** 3;
      assert.strictEqual(await beat(threeGiB), threeGiB);
      assert.strictEqual(await beat(threeGiB + 1024), threeGiB, 'a move of a few bytes is not written');
      assert.strictEqual(await beat(2 * threeGiB), 2 * threeGiB);
    });

    it('records the instances a delta says are gone as a full report lacking them would', async () => {
      const node = await insertNode(api, 'node-g');
      const other = await insertNode(api, 'node-h');
      const app = await createApp(api, 'gone');
      const release = await deployRelease(api, app);
      const [stopped, lost, kept, neverRan, elsewhere] = [
        await insertInstance(api, app, release, 'web', 1, node),
        await insertInstance(api, app, release, 'web', 2, node),
        await insertInstance(api, app, release, 'web', 3, node),
        await insertInstance(api, app, release, 'web', 4, node),
        await insertInstance(api, app, release, 'web', 5, other),
      ];
      const { manager } = api.dataSource;
      await manager.update(Instance, { id: stopped.id }, { desired: 'stop', state: 'stopping', containerId: 'c1' });
      for (const [i, containerId] of [
        [lost, 'c2'],
        [kept, 'c3'],
        [elsewhere, 'c5'],
      ] as const) {
        await manager.update(Instance, { id: i.id }, { containerId });
      }
      const keptReport = {
        id: kept.id,
        releaseId: kept.releaseId,
        state: 'up',
        containerId: 'c3',
        address: kept.address,
        pid: 42,
        memoryBytes: 1234,
        restartCount: 0,
        error: null,
      };
      const res = await api.request('POST', '/api/nodes/node-g/heartbeat', {
        body: {
          instances: [keptReport],
          full: false,
          // a stopped one, a lost one, one reported too (the report wins), one without a
          // container, another node's, and one nobody knows
          gone: [stopped.id, lost.id, kept.id, neverRan.id, elsewhere.id, randomUUID()],
        },
      });
      assert.equal(res.status, 200, res.text);
      const row = (i: Instance) => manager.findOneBy(Instance, { id: i.id });
      assert.equal(await row(stopped), null, 'stopped and removed: forgotten');
      assert.deepEqual(
        [(await row(lost))?.state, (await row(lost))?.containerId, (await row(lost))?.address],
        ['starting', null, null],
        'gone from under its agent: started again',
      );
      assert.deepEqual([(await row(kept))?.state, (await row(kept))?.containerId], ['up', 'c3']);
      assert.deepEqual([(await row(neverRan))?.state, (await row(neverRan))?.containerId], ['up', null]);
      assert.deepEqual([(await row(elsewhere))?.state, (await row(elsewhere))?.containerId], ['up', 'c5']);
    });

    it('answers the desired set only when it changed since the version the agent echoes', async () => {
      const node = await insertNode(api, 'node-e');
      const app = await createApp(api, 'etag');
      const release = await deployRelease(api, app);
      const one = await insertInstance(api, app, release, 'web', 1, node);
      const beat = async (desiredVersion?: string) => {
        const body = { instances: [], full: false, ...(desiredVersion ? { desiredVersion } : {}) };
        const res = await api.request('POST', '/api/nodes/node-e/heartbeat', { body });
        assert.equal(res.status, 200, res.text);
        return res.body as { desiredVersion: string; instances: { id: string; app: string }[] | null };
      };
      const first = await beat();
      assert.deepEqual(
        first.instances?.map((d) => d.id),
        [one.id],
      );
      assert.equal((await beat(first.desiredVersion)).instances, null, 'unchanged: not resent');
      assert.deepEqual(
        (await beat('an old version')).instances?.map((d) => d.id),
        [one.id],
        'an agent holding another set gets the whole set',
      );

      // a new instance on the node changes the set
      const two = await insertInstance(api, app, release, 'web', 2, node);
      const second = await beat(first.desiredVersion);
      assert.notEqual(second.desiredVersion, first.desiredVersion);
      assert.deepEqual(second.instances?.map((d) => d.id).sort(), [one.id, two.id].sort());
      assert.equal((await beat(second.desiredVersion)).instances, null);

      // so does one leaving it, and a renamed app (its containers' names)
      await api.dataSource.manager.update(Instance, { id: two.id }, { desired: 'stop' });
      const third = await beat(second.desiredVersion);
      assert.deepEqual(
        third.instances?.map((d) => d.id),
        [one.id],
      );
      await api.dataSource.manager.update(App, { id: app.id }, { name: 'etag-renamed' });
      const fourth = await beat(third.desiredVersion);
      assert.deepEqual(
        fourth.instances?.map((d) => d.app),
        ['etag-renamed'],
      );
    });
  });
}
