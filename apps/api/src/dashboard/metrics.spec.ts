import { Instance, issueToken } from '@paas/platform';
import { publishRouterMetrics } from '@paas/platform/routes';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { type MetricsClock, MetricsService } from './metrics.service';

const status = (n: number) => ({ '2xx': n, '3xx': 0, '4xx': 1, '5xx': 0 });
const figures = (requests: number, requestsPerSecond: number) => ({
  requests,
  requestsPerSecond,
  inflight: 1,
  status: status(requests - 1),
  bytes: requests * 10,
});

for (const kind of TEST_DATABASES) {
  describe(`GET /api/apps/:app/metrics on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off' });
      const shop = await createApp(api, 'shop');
      const other = await createApp(api, 'other');
      const release = await deployRelease(api, shop, { processTypes: { web: 'x', worker: 'y' } });
      const node = await insertNode(api, 'node-1');
      await insertInstance(api, shop, release, 'web', 1, node);
      await insertInstance(api, shop, release, 'web', 2, node);
      const starting = await insertInstance(api, shop, release, 'worker', 1, node);
      await api.dataSource.manager.update(Instance, { id: starting.id }, { state: 'starting' });
      const leaving = await insertInstance(api, shop, release, 'web', 3, node);
      await api.dataSource.manager.update(Instance, { id: leaving.id }, { state: 'stopping', desired: 'stop' });
      await insertInstance(api, other, await deployRelease(api, other), 'web', 1, node);
    });
    after(async () => {
      await api?.close();
    });

    it("sums the app's figures over the routers with fresh metrics, with its instances by state", async () => {
      const now = Date.now();
      await publishRouterMetrics(api.redis, {
        router: 'r1',
        time: now,
        apps: { shop: figures(10, 2.5), other: figures(99, 50) },
      });
      await publishRouterMetrics(api.redis, { router: 'r2', time: now, apps: { shop: figures(5, 1.25) } });
      await publishRouterMetrics(api.redis, {
        router: 'stale',
        time: now - 60_000,
        apps: { shop: figures(1000, 500) },
      });
      const res = await api.request('GET', '/api/apps/shop/metrics');
      assert.equal(res.status, 200, res.text);
      const body = res.body;
      assert.equal(body.app, 'shop');
      assert.deepEqual(
        [body.routers, body.requests, body.requestsPerSecond, body.inflight, body.bytes],
        [2, 15, 3.75, 2, 150],
      );
      assert.deepEqual(body.status, { '2xx': 13, '3xx': 0, '4xx': 2, '5xx': 0 });
      assert.deepEqual(body.instances, { total: 3, up: 2, byState: { up: 2, starting: 1 } });
      assert.equal(body.intervalMs, 2000);
      assert.equal(body.samples.length, 1);
      assert.deepEqual(
        { ...body.samples[0], t: undefined },
        { t: undefined, requestsPerSecond: 3.75, instances: 3, up: 2 },
      );
      assert.ok(Math.abs(body.samples[0].t - now) < 5000);
    });

    it('answers zeros for an app no router has seen, by id as by name', async () => {
      const other = await api.request('GET', '/api/apps/other');
      await api.redis.del('paas:router-metrics');
      const res = await api.request('GET', `/api/apps/${other.body.id}/metrics`);
      assert.equal(res.status, 200);
      assert.deepEqual(
        [res.body.app, res.body.routers, res.body.requestsPerSecond, res.body.instances.total],
        ['other', 0, 0, 1],
      );
    });

    it('is scoped like every app route', async () => {
      assert.equal((await api.request('GET', '/api/apps/shop/metrics', { token: null })).status, 401);
      const scoped = await issueToken(api.dataSource.manager, { name: 'ci', apps: ['other'] });
      const denied = await api.request('GET', '/api/apps/shop/metrics', { token: scoped.token });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, 'forbidden');
      const missing = await api.request('GET', '/api/apps/nosuch/metrics');
      assert.deepEqual(missing.body, { code: 'not_found', message: "app 'nosuch' not found" });
    });
  });
}

describe('metrics history', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi('sqlite', { PAAS_SCHEDULER: 'off' });
  });
  after(async () => {
    await api?.close();
  });

  it('samples a watched app on a timer, keeps the window, and stops when nobody asks', async () => {
    const app = await createApp(api, 'watched');
    const clock = new FakeClock();
    const service = new MetricsService(api.dataSource, api.redis, { intervalMs: 100, windowMs: 600, clock });
    try {
      const publish = (rps: number) =>
        publishRouterMetrics(api.redis, { router: 'r1', time: Date.now(), apps: { watched: figures(1, rps) } });
      await publish(1);
      const first = await service.forApp(app);
      assert.equal(first.samples.length, 1);
      await publish(7);
      await clock.advance(450);
      const later = await service.forApp(app);
      assert.deepEqual(
        later.samples.map((s) => [s.t - first.time, s.requestsPerSecond]),
        [
          [0, 1],
          [100, 7],
          [200, 7],
          [300, 7],
          [400, 7],
          [450, 7],
        ],
        'one sample per tick, and one for the request half an interval after the last',
      );

      // the window: older samples go
      await clock.advance(500);
      const windowed = await service.forApp(app);
      assert.deepEqual(
        windowed.samples.map((s) => s.t - first.time),
        [400, 450, 500, 600, 700, 800, 900, 950],
      );

      // nobody asks for longer than the window: sampling stops and the history is dropped
      await clock.advance(900);
      assert.equal(clock.running, false, 'the timer stopped');
      const fresh = await service.forApp(app);
      assert.equal(fresh.samples.length, 1, `history restarted (had ${windowed.samples.length})`);
    } finally {
      service.onModuleDestroy();
    }
  });
});

/** Time that moves only when the spec says: each timer tick runs, and is waited for, in order. */
class FakeClock implements MetricsClock {
  private t = 1_800_000_000_000;
  private timer: { ms: number; next: number; tick: () => Promise<unknown> } | undefined;

  get running(): boolean {
    return this.timer !== undefined;
  }

  now(): number {
    return this.t;
  }

  every(ms: number, tick: () => Promise<unknown>): () => void {
    const timer = { ms, next: this.t + ms, tick };
    this.timer = timer;
    return () => {
      if (this.timer === timer) this.timer = undefined;
    };
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let timer = this.timer; timer && timer.next <= end; timer = this.timer) {
      this.t = timer.next;
      timer.next += timer.ms;
      await timer.tick();
    }
    this.t = end;
  }
}
