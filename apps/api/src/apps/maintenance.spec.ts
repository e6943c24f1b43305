import { readAppRoute } from '@paas/platform/routes';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SchedulerService } from '../scheduler/scheduler.service';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

describe('maintenance mode', () => {
  let api: TestApi;
  let appId: string;
  const path = '/api/apps/site/maintenance';
  before(async () => {
    api = await startTestApi('sqlite');
    appId = (await createApp(api, 'site')).id;
  });
  after(async () => {
    await api?.close();
  });

  it('is off by default, turns on and off once, reaches the route and the log, and shows on the app', async () => {
    const scheduler = api.api.app.get(SchedulerService);
    assert.deepEqual((await api.request('GET', path)).body, { maintenance: false, changed: false });
    assert.equal((await api.request('GET', '/api/apps/site')).body.maintenance, false);
    await scheduler.reconcileNow();
    assert.equal((await readAppRoute(api.redis, 'site')).route?.maintenance, undefined);

    let res = await api.request('PATCH', path, { body: { maintenance: true } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { maintenance: true, changed: true });
    assert.equal((await api.request('GET', '/api/apps/site')).body.maintenance, true);
    assert.equal((await api.request('GET', '/api/apps')).body[0].maintenance, true);
    await scheduler.reconcileNow();
    assert.equal((await readAppRoute(api.redis, 'site')).route?.maintenance, true);

    // again: idempotent, says nothing changed, logs nothing
    res = await api.request('PATCH', path, { body: { maintenance: true } });
    assert.deepEqual(res.body, { maintenance: true, changed: false });

    res = await api.request('PATCH', path, { body: { maintenance: false } });
    assert.deepEqual(res.body, { maintenance: false, changed: true });
    await scheduler.reconcileNow();
    assert.equal((await readAppRoute(api.redis, 'site')).route?.maintenance, undefined);
    const lines = (await apiLogLines(api, appId)).filter((l) => l.startsWith('Maintenance'));
    assert.deepEqual(lines, ['Maintenance mode on by admin', 'Maintenance mode off by admin']);
    const releases = await api.request('GET', '/api/apps/site/releases');
    assert.deepEqual(releases.body, [], 'no release made');
  });

  it('refuses what is not a mode, naming the field, and an unknown app', async () => {
    for (const [body, field] of [
      [{ maintenance: 'on' }, 'maintenance'],
      [{ maintenance: 1 }, 'maintenance'],
      [{ maintenance: null }, 'maintenance'],
      [{}, 'maintenance'],
      [{ maintenance: true, extra: 1 }, 'extra'],
    ] as const) {
      const res = await api.request('PATCH', path, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.details[0].field, field, res.text);
    }
    assert.deepEqual((await api.request('GET', path)).body, { maintenance: false, changed: false });
    const missing = await api.request('PATCH', '/api/apps/nope/maintenance', { body: { maintenance: true } });
    assert.equal(missing.status, 404, missing.text);
    assert.match(missing.body.message, /nope/);
  });
});
