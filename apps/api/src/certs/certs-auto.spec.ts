import { freePort, TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import type { CertsAutoView } from './certs-auto.dto';

for (const kind of TEST_DATABASES) {
  describe(`certs:auto on ${kind}`, () => {
    let api: TestApi;
    let bare: TestApi;
    let directory = '';
    before(async () => {
      // a directory where nothing listens: every order fails before it reaches a problem document
      directory = `https://127.0.0.1:${await freePort()}/dir`;
      api = await startTestApi(kind, { PAAS_ACME_DIRECTORY: directory, PAAS_ACME_INTERVAL_MS: '200' });
      bare = await startTestApi(kind);
      for (const t of [api, bare]) {
        await createApp(t, 'shop');
        await t.request('POST', '/api/apps/shop/domains', { body: { hostname: 'www.shop.test' } });
      }
    });
    after(async () => {
      await api?.close();
      await bare?.close();
    });

    it('refuses to enable without PAAS_ACME_DIRECTORY, naming the setting, and changes nothing', async () => {
      const res = await bare.request('POST', '/api/apps/shop/certs/auto');
      assert.equal(res.status, 422, res.text);
      assert.match(res.text, /PAAS_ACME_DIRECTORY/);
      const status = await bare.request('GET', '/api/apps/shop/certs/auto');
      assert.deepEqual((status.body as CertsAutoView).enabled, false);
    });

    it("enables, shows each domain's state, records the failed order's problem with a later attempt, and disables", async () => {
      const off = await api.request('GET', '/api/apps/shop/certs/auto');
      assert.equal(off.status, 200, off.text);
      assert.deepEqual(off.body, {
        enabled: false,
        domains: [
          {
            hostname: 'www.shop.test',
            state: null,
            certificateId: null,
            certificateSource: null,
            expiresAt: null,
            problem: null,
            attempts: 0,
            lastAttemptAt: null,
            nextAttemptAt: null,
          },
        ],
      });
      const on = await api.request('POST', '/api/apps/shop/certs/auto');
      assert.equal(on.status, 200, on.text);
      const enabled = on.body as CertsAutoView;
      assert.equal(enabled.enabled, true);
      assert.ok(['waiting', 'issuing', 'failed'].includes(enabled.domains[0]?.state ?? ''), on.text);
      let view = enabled;
      for (let i = 0; i < 200 && view.domains[0]?.state !== 'failed'; i++) {
        await sleep(50);
        view = (await api.request('GET', '/api/apps/shop/certs/auto')).body as CertsAutoView;
      }
      const [domain] = view.domains;
      assert.equal(domain?.state, 'failed', JSON.stringify(view));
      assert.equal(domain.problem?.type, 'paas:acme:unreachable');
      assert.match(domain.problem?.detail ?? '', /ECONNREFUSED/);
      assert.ok(domain.attempts >= 1);
      assert.ok(Date.parse(domain.nextAttemptAt ?? '') > Date.parse(domain.lastAttemptAt ?? ''), 'backed off');
      const log = await api.request('GET', '/api/apps/shop/logs');
      assert.match(log.text, /Automatic certificates enabled/);
      // DELETE .../certs/auto is not a certificate id
      const disabled = await api.request('DELETE', '/api/apps/shop/certs/auto');
      assert.equal(disabled.status, 200, disabled.text);
      const after = disabled.body as CertsAutoView;
      assert.equal(after.enabled, false);
      assert.deepEqual(
        [after.domains[0]?.state, after.domains[0]?.problem, after.domains[0]?.attempts],
        [null, null, 0],
      );
      assert.equal((await api.request('GET', '/api/apps/shop/certs')).status, 200);
    });
  });
}
