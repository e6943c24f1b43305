import { issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadApiConfig } from '../config';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`GET /api/health on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
    });
    after(async () => {
      await api?.close();
    });

    it('answers ok with the version and uptime, without a token', async () => {
      const res = await api.request('GET', '/api/health', { token: null });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      assert.equal(res.body.status, 'ok');
      assert.equal(typeof res.body.version, 'string');
      assert.ok(typeof res.body.uptimeSeconds === 'number' && res.body.uptimeSeconds >= 0);
    });

    it('says whether this api leads the scheduler: the only one does', async () => {
      const res = await api.request('GET', '/api/health', { token: null });
      assert.equal(res.body.leader, true);
      const ready = await api.request('GET', '/api/health/ready', { token: null });
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready', leader: true });
    });

    it('names the leading api on GET /api/control-plane, for admins only', async () => {
      const res = await api.request('GET', '/api/control-plane');
      assert.equal(res.status, 200);
      assert.equal(res.body.selfLeads, true);
      assert.match(res.body.self, / pid \d+$/);
      assert.equal(res.body.leader.holder, res.body.self);
      assert.equal(res.body.leader.address, new URL(api.url).host);
      assert.ok(res.body.leader.term >= 1);
      assert.ok(Date.parse(res.body.leader.since) <= Date.now());
      assert.equal((await api.request('GET', '/api/control-plane', { token: null })).status, 401);
      const { token: appToken } = await issueToken(api.dataSource.manager, { name: 'apps', apps: ['mine'] });
      assert.equal((await api.request('GET', '/api/control-plane', { token: appToken })).status, 403);
    });

    it('answers 404 in our error shape for an unknown route', async () => {
      const res = await api.request('GET', '/api/nosuch');
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { code: 'not_found', message: 'no route for GET /api/nosuch' });
    });

    // last: it breaks this api's Redis connection
    it('is not ready, naming Redis, when Redis does not answer; still alive', async () => {
      api.redis.disconnect();
      const ready = await api.request('GET', '/api/health/ready', { token: null });
      assert.equal(ready.status, 503);
      assert.equal(ready.body.code, 'unavailable');
      assert.equal(ready.body.message, 'not ready: Redis does not answer');
      assert.equal((await api.request('GET', '/api/health', { token: null })).status, 200);
    });
  });
}

describe('api settings', () => {
  it('refuses a bad listen address at start-up with the variable named', () => {
    assert.throws(() => loadApiConfig({ PAAS_API_ADDR: 'nope' }), /PAAS_API_ADDR="nope"/);
  });

  it('refuses a bad bridge name or subnet with the variable named', () => {
    assert.throws(() => loadApiConfig({ PAAS_BRIDGE: 'no spaces allowed' }), /PAAS_BRIDGE="no spaces allowed"/);
    assert.throws(() => loadApiConfig({ PAAS_SUBNET: '10.0.0.0/99' }), /PAAS_SUBNET="10.0.0.0\/99"/);
  });

  it('takes the router port for web URLs', () => {
    assert.equal(loadApiConfig({}).routerPort, 8080);
    assert.equal(loadApiConfig({ PAAS_ROUTER_ADDR: ':80' }).routerPort, 80);
  });
});
