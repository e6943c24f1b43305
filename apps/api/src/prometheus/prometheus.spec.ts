import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueToken } from '@paas/platform';
import { TEST_DATABASES, parsePrometheus, sampleValue } from '@paas/platform/testing';
import { loadApiConfig } from '../config';
import { createApp, deployRelease, insertBuild, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, send, startTestApi } from '../testing/harness';

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

for (const kind of TEST_DATABASES) {
  describe(`GET /metrics on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind, { PAAS_API_METRICS_ADDR: '127.0.0.1:0' });
    });
    after(async () => {
      await api?.close();
    });

    it('answers an admin token in Prometheus text, with the platform counts from the database', async () => {
      const shop = await createApp(api, 'shop');
      await createApp(api, 'blog');
      const release = await deployRelease(api, shop);
      await insertBuild(api, shop, 1, { status: 'pending' });
      await insertBuild(api, shop, 2, { status: 'succeeded' });
      await insertNode(api, 'n1');
      await insertInstance(api, shop, release, 'web', 1, null);
      const res = await api.request('GET', '/metrics');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], TEXT);
      const families = parsePrometheus(res.text);
      assert.equal(sampleValue(families, 'paas_apps'), 2);
      assert.equal(sampleValue(families, 'paas_builds_queued'), 1);
      // every state is there, empty ones at 0; the scheduler may add and move instances meanwhile
      const states = families
        .get('paas_instances')
        ?.samples.map((s) => s.labels['state'])
        .sort();
      assert.deepEqual(states, ['crashed', 'down', 'pending', 'starting', 'stopping', 'up']);
      const instances = families.get('paas_instances')?.samples.reduce((n, s) => n + s.value, 0) ?? 0;
      assert.ok(instances >= 1, `${instances} instances`);
      assert.equal(
        families.get('paas_nodes')?.samples.reduce((n, s) => n + s.value, 0),
        1,
      );
      assert.equal(sampleValue(families, 'paas_nodes', { state: 'draining' }), 0);
      assert.equal(families.get('process_cpu_user_seconds_total')?.type, 'counter', "prom-client's process metrics");
    });

    it('counts requests by the route pattern, never the raw URL', async () => {
      await createApp(api, 'counted');
      for (let i = 0; i < 3; i++) assert.equal((await api.request('GET', '/api/apps/counted')).status, 200);
      assert.equal((await api.request('GET', '/api/apps/nosuchapp')).status, 404);
      assert.equal((await api.request('GET', '/api/nosuch/route')).status, 404);
      const families = parsePrometheus((await api.request('GET', '/metrics')).text);
      const route = { method: 'GET', route: '/api/apps/:app' };
      assert.ok((sampleValue(families, 'paas_api_http_requests_total', { ...route, status: '200' }) ?? 0) >= 3);
      assert.equal(sampleValue(families, 'paas_api_http_requests_total', { ...route, status: '404' }), 1);
      assert.ok((sampleValue(families, 'paas_api_http_requests_total', { route: 'none', status: '404' }) ?? 0) >= 1);
      const routes = families.get('paas_api_http_requests_total')?.samples.map((s) => s.labels['route']) ?? [];
      assert.ok(!routes.some((r) => r?.includes('counted') || r?.includes('nosuch')), routes.join(' '));
    });

    it('counts a request whose body the parser refuses (not JSON)', async () => {
      const before = parsePrometheus((await api.request('GET', '/metrics')).text);
      const refused = { method: 'POST', status: '400' };
      const was = (before.get('paas_api_http_requests_total')?.samples ?? [])
        .filter((s) => s.labels['method'] === 'POST' && s.labels['status'] === '400')
        .reduce((n, s) => n + s.value, 0);
      const bad = await api.request('POST', '/api/apps', {
        body: '{"name": ',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(bad.status, 400, bad.text);
      const after = parsePrometheus((await api.request('GET', '/metrics')).text);
      const now = (after.get('paas_api_http_requests_total')?.samples ?? [])
        .filter((s) => s.labels['method'] === refused.method && s.labels['status'] === refused.status)
        .reduce((n, s) => n + s.value, 0);
      assert.equal(now, was + 1);
    });

    it('refuses no token (401), an app token and a node token (403): the counts are the platform operator’s', async () => {
      assert.equal((await api.request('GET', '/metrics', { token: null })).status, 401);
      const { token: appToken } = await issueToken(api.dataSource.manager, { name: 'tenant', apps: ['shop'] });
      const asApp = await api.request('GET', '/metrics', { token: appToken });
      assert.equal(asApp.status, 403);
      assert.doesNotMatch(asApp.text, /paas_/);
      const { token: nodeToken } = await issueToken(api.dataSource.manager, { name: 'node', node: true });
      assert.equal((await api.request('GET', '/metrics', { token: nodeToken })).status, 403);
      assert.equal((await api.request('GET', '/api/metrics')).status, 404, 'one address for it, not two');
    });

    it('serves the same without a token on PAAS_API_METRICS_ADDR, and nothing else there', async () => {
      const url = api.api.metricsUrl;
      assert.ok(url, 'the metrics address listens');
      const res = await send(url, 'GET', '');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], TEXT);
      assert.ok((sampleValue(parsePrometheus(res.text), 'paas_apps') ?? 0) >= 2);
      assert.equal((await send(url.replace(/\/metrics$/, ''), 'GET', '/api/apps')).status, 404);
    });
  });
}

describe('api metrics settings', () => {
  it('serves no metrics address unless PAAS_API_METRICS_ADDR is set, and refuses a bad one by name', () => {
    assert.equal(loadApiConfig({}).metricsListen, null);
    assert.equal(loadApiConfig({ PAAS_API_METRICS_ADDR: 'off' }).metricsListen, null);
    assert.deepEqual(loadApiConfig({ PAAS_API_METRICS_ADDR: '10.0.0.1:9100' }).metricsListen, {
      host: '10.0.0.1',
      port: 9100,
    });
    assert.throws(
      () => loadApiConfig({ PAAS_API_METRICS_ADDR: 'everywhere' }),
      /PAAS_API_METRICS_ADDR="everywhere": expected HOST:PORT, \[IPV6\]:PORT or :PORT or off/,
    );
    // the variable named once, also when the value has a colon
    assert.throws(
      () => loadApiConfig({ PAAS_API_METRICS_ADDR: '1.2.3.4:99999' }),
      (err: Error) =>
        err.message === 'PAAS_API_METRICS_ADDR="1.2.3.4:99999": port 99999 is out of range 0-65535 or off',
    );
  });
});
