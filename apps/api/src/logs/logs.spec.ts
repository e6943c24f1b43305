import { APP_LOG_MAX, type App, appLogKey, appendLog } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEvents } from '../testing/events';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`logs on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/lg/logs';
    const line = (text: string, source = 'web.1'): Promise<void> =>
      appendLog(api.redis, appLogKey(app.id), source, text, APP_LOG_MAX);
    const lines = async (query: string): Promise<string[]> => {
      const client = await openEvents(api.url, `${path}${query}`, api.adminToken);
      assert.equal(client.status, 200);
      return (await client.rest()).map((e) => (JSON.parse(e.data) as { line: string }).line);
    };
    before(async () => {
      api = await startTestApi(kind);
      app = await createApp(api, 'lg');
      for (let i = 1; i <= 120; i++) await line(`line ${i}`);
    });
    after(async () => {
      await api?.close();
    });

    it('answers the last 100 lines by default, as {t, source, line} events', async () => {
      const client = await openEvents(api.url, path, api.adminToken);
      assert.match(String(client.headers['content-type']), /^text\/event-stream/);
      const events = await client.rest();
      assert.equal(events.length, 100);
      const first = JSON.parse(events[0]?.data ?? '{}') as Record<string, string>;
      assert.deepEqual(Object.keys(first).sort(), ['line', 'source', 't']);
      assert.deepEqual([first['line'], first['source']], ['line 21', 'web.1']);
      assert.ok(Date.parse(first['t'] ?? ''));
      assert.equal(JSON.parse(events[99]?.data ?? '{}').line, 'line 120');
    });

    it('answers the last N lines with tail', async () => {
      assert.deepEqual(await lines('?tail=2'), ['line 119', 'line 120']);
      assert.deepEqual(await lines('?tail=0'), []);
    });

    it('follows new lines, including the api events of changes', async () => {
      const client = await openEvents(api.url, `${path}?tail=1&follow=1`, api.adminToken);
      assert.equal(JSON.parse((await client.next()).data).line, 'line 120');
      await line('line 121');
      assert.equal(JSON.parse((await client.next()).data).line, 'line 121');
      await api.request('PATCH', '/api/apps/lg/config-vars', { body: { A: '1' } });
      const event = JSON.parse((await client.next()).data);
      assert.deepEqual([event.source, event.line], ['api', 'Set A config vars by admin']);
      client.close();
    });

    it('follows only new lines with tail=0', async () => {
      const client = await openEvents(api.url, `${path}?tail=0&follow=true`, api.adminToken);
      await line('fresh');
      assert.equal(JSON.parse((await client.next()).data).line, 'fresh');
      client.close();
    });

    it('validates the query', async () => {
      for (const query of [
        'tail=-1',
        'tail=abc',
        `tail=${APP_LOG_MAX + 1}`,
        'tail=1.5',
        'tail=1&tail=2',
        'follow=yes',
        'since=1h',
      ]) {
        const res = await api.request('GET', `${path}?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(res.body.code, 'invalid_params');
      }
    });

    it('stops with followers still connected', async () => {
      const client = await openEvents(api.url, `${path}?tail=0&follow=1`, api.adminToken);
      assert.equal(client.status, 200);
      const closing = api.close();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the api did not stop')), 5000).unref(),
      );
      await Promise.race([closing, timeout]);
      assert.deepEqual(await client.rest(), [], 'the follower saw the stream end');
    });
  });
}
