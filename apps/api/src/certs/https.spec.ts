import { readAppRoute } from '@paas/platform/routes';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SchedulerService } from '../scheduler/scheduler.service';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

describe('https settings', () => {
  let api: TestApi;
  let appId: string;
  const path = '/api/apps/site/https';
  before(async () => {
    api = await startTestApi('sqlite');
    appId = (await createApp(api, 'site')).id;
  });
  after(async () => {
    await api?.close();
  });

  it('are off by default, change one at a time, and reach the route', async () => {
    const scheduler = api.api.app.get(SchedulerService);
    assert.deepEqual((await api.request('GET', path)).body, { httpsRedirect: false, hstsMaxAge: null });
    await scheduler.reconcileNow();
    assert.equal((await readAppRoute(api.redis, 'site')).route?.https, undefined);
    let res = await api.request('PATCH', path, { body: { httpsRedirect: true } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { httpsRedirect: true, hstsMaxAge: null });
    res = await api.request('PATCH', path, { body: { hstsMaxAge: 31_536_000 } });
    assert.deepEqual(res.body, { httpsRedirect: true, hstsMaxAge: 31_536_000 });
    assert.deepEqual((await api.request('GET', path)).body, res.body);
    await scheduler.reconcileNow();
    assert.deepEqual((await readAppRoute(api.redis, 'site')).route?.https, { redirect: true, hstsMaxAge: 31_536_000 });
    res = await api.request('PATCH', path, { body: { httpsRedirect: false, hstsMaxAge: null } });
    assert.deepEqual(res.body, { httpsRedirect: false, hstsMaxAge: null });
    await scheduler.reconcileNow();
    assert.equal((await readAppRoute(api.redis, 'site')).route?.https, undefined);
    assert.ok((await apiLogLines(api, appId)).includes('HTTPS settings: redirect on, HSTS max-age=31536000'));
  });

  it('refuses what is not a setting, naming the field', async () => {
    for (const [body, field] of [
      [{ httpsRedirect: 'yes' }, 'httpsRedirect'],
      [{ httpsRedirect: null }, 'httpsRedirect'],
      [{ hstsMaxAge: -1 }, 'hstsMaxAge'],
      [{ hstsMaxAge: 1.5 }, 'hstsMaxAge'],
      [{ hstsMaxAge: 10 * 365 * 86_400 + 1 }, 'hstsMaxAge'],
      [{ hstsMaxAge: '60' }, 'hstsMaxAge'],
      [{ redirect: true }, 'redirect'],
    ] as const) {
      const res = await api.request('PATCH', path, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.details[0].field, field, res.text);
    }
    assert.deepEqual((await api.request('GET', path)).body, { httpsRedirect: false, hstsMaxAge: null });
  });
});
