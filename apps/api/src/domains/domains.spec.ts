import { Domain } from '@paas/platform';
import { readAppRoute } from '@paas/platform/routes';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@paas/platform/testing';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`domains on ${kind}`, () => {
    let api: TestApi;
    const path = '/api/apps/dom/domains';
    before(async () => {
      // a period no test waits for: the route follows a domain by the pass its change asks for
      api = await startTestApi(kind, { PAAS_DOMAIN: 'paas.test', PAAS_RECONCILE_MS: '60000' });
      await createApp(api, 'dom');
      await createApp(api, 'other');
    });
    after(async () => {
      await api?.close();
    });

    it('adds domains, lower-cased, and lists them by name', async () => {
      const res = await api.request('POST', path, { body: { hostname: 'WWW.Example.com' } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.hostname, 'www.example.com');
      assert.match(res.body.id, /^[0-9a-f-]{36}$/);
      assert.ok(Date.parse(res.body.createdAt));
      await api.request('POST', path, { body: { hostname: 'api.example.com' } });
      const list = await api.request('GET', path);
      assert.deepEqual(
        list.body.map((d: { hostname: string }) => d.hostname),
        ['api.example.com', 'www.example.com'],
      );
      assert.deepEqual((await api.request('GET', '/api/apps/other/domains')).body, []);
    });

    it('answers 409 for a hostname any app has', async () => {
      for (const [app, hostname] of [
        ['dom', 'www.example.com'],
        ['other', 'WWW.EXAMPLE.COM'],
      ]) {
        const res = await api.request('POST', `/api/apps/${app}/domains`, { body: { hostname } });
        assert.equal(res.status, 409);
        assert.equal(res.body.code, 'conflict');
      }
    });

    it("refuses what is not a fully qualified host name, and names under the platform's domain", async () => {
      for (const hostname of [
        'localhost',
        'bad_host.example.com',
        '-a.example.com',
        'a..example.com',
        'example.com.',
        `${'a'.repeat(64)}.example.com`,
        `${'a.'.repeat(127)}com`,
        'http://x.com',
        '',
        12,
      ]) {
        const res = await api.request('POST', path, { body: { hostname } });
        assert.equal(res.status, 400, String(hostname));
        assert.equal(res.body.details[0].field, 'hostname');
      }
      assert.equal((await api.request('POST', path, { body: { hostname: 'x.example.com', app: 'dom' } })).status, 400);
      for (const hostname of ['other.paas.test', 'paas.test']) {
        const res = await api.request('POST', path, { body: { hostname } });
        assert.equal(res.status, 422, hostname);
      }
      assert.equal(await api.dataSource.manager.count(Domain), 2);
    });

    it("puts a domain in the app's route at once, and takes it out", async () => {
      const hosts = async () => (await readAppRoute(api.redis, 'dom')).route?.hosts ?? [];
      await api.request('POST', path, { body: { hostname: 'now.example.com' } });
      await waitFor(async () => (await hosts()).includes('now.example.com'), 'the new domain in the route', 10_000);
      await api.request('DELETE', `${path}/now.example.com`);
      await waitFor(async () => !(await hosts()).includes('now.example.com'), 'the domain out of the route', 10_000);
    });

    it('removes a domain of the app, and only of the app', async () => {
      assert.equal((await api.request('DELETE', '/api/apps/other/domains/www.example.com')).status, 404);
      const res = await api.request('DELETE', `${path}/WWW.example.com`);
      assert.equal(res.status, 200);
      assert.equal(res.body.hostname, 'www.example.com');
      assert.equal((await api.request('DELETE', `${path}/www.example.com`)).status, 404);
      const again = await api.request('POST', '/api/apps/other/domains', { body: { hostname: 'www.example.com' } });
      assert.equal(again.status, 201, 'a removed hostname is free again');
    });
  });
}
