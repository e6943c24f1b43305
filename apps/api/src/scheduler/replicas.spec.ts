/**
 * Two api processes' worth in this process (each its own Nest app, database pool and Redis
 * connections) on one PostgreSQL and one Redis: the first leads the scheduler, the second
 * follows, and a change made through the follower reaches the leader's pass at once. Passes
 * on a timer are kept out of the way (PAAS_RECONCILE_MS 60 s), so only the kick can do it.
 */
import { Instance, Release } from '@paas/platform';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appNamed, createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, type TestReplica, startTestApi, startTestReplica } from '../testing/harness';
import { waitFor } from '../testing/wait';
import { DeploysService } from './deploys.service';

const QUIET = { PAAS_RECONCILE_MS: '60000', PAAS_NODE_TIMEOUT: '600' };

describe('scheduler with two api replicas on postgres', () => {
  let first: TestApi;
  let second: TestReplica | undefined;
  /** A request to the second api, with the admin token the first made. */
  const viaSecond = (method: string, path: string, body?: unknown) =>
    (second as TestReplica).request(method, path, { body });

  before(async () => {
    first = await startTestApi('postgres', QUIET);
    second = await startTestReplica(first, QUIET);
  });
  after(async () => {
    await second?.close();
    await first?.close();
  });

  it('the first leads, the second follows; both name the leader', async () => {
    assert.equal((await first.request('GET', '/api/health', { token: null })).body.leader, true);
    assert.equal((await viaSecond('GET', '/api/health')).body.leader, false);
    const plane = await viaSecond('GET', '/api/control-plane');
    assert.equal(plane.status, 200);
    assert.equal(plane.body.selfLeads, false);
    assert.equal(plane.body.leader.address, new URL(first.url).host);
    assert.notEqual(plane.body.leader.holder, undefined);
  });

  it("a scale through the follower is planned by the leader's pass at once", async () => {
    const reg = await first.request('POST', '/api/nodes/register', {
      body: { name: 'n1', address: '10.99.0.1', memory: 4096, cpus: 4000, version: 'test' },
    });
    assert.equal(reg.status, 201, reg.text);
    const app = await createApp(first, 'replicated');
    await deployRelease(first, app);
    const running = () => first.dataSource.manager.count(Instance, { where: { appId: app.id, desired: 'run' } });
    await waitFor(async () => (await running()) === 1, 'the first instance placed');
    const res = await viaSecond('PATCH', '/api/apps/replicated/formation/web', { quantity: 3 });
    assert.equal(res.status, 200, res.text);
    await waitFor(async () => (await running()) === 3, 'three instances placed after the scale through the follower');
  });

  it("a deploy watched through the follower (a push) gets the leader's lines from the app's log", async () => {
    const app = await appNamed(first, 'replicated');
    const release = await first.dataSource.manager.findOneByOrFail(Release, { appId: app.id, version: 1 });
    const lines: string[] = [];
    const stop = new AbortController();
    const watching = (second as TestReplica).api.app
      .get(DeploysService)
      .waitLive(release.id, { onLine: (line) => lines.push(line), signal: stop.signal });
    try {
      const res = await viaSecond('PATCH', '/api/apps/replicated/formation/web', { quantity: 4 });
      assert.equal(res.status, 200, res.text);
      await waitFor(
        async () => lines.some((l) => /^Starting web\.4 \(v1\) on n1$/.test(l)),
        `the line of web.4 in ${lines}`,
      );
    } finally {
      stop.abort();
    }
    assert.equal((await watching).status, 'timeout');
  });
});
