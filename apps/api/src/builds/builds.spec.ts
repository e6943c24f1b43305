import { type App, BUILD_LOG_MAX, appendLog, buildLogKey, endLog } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEvents } from '../testing/events';
import { createApp, deployRelease, insertBuild } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { waitFor } from '../testing/wait';

for (const kind of TEST_DATABASES) {
  describe(`builds on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/bld/builds';
    before(async () => {
      api = await startTestApi(kind);
      app = await createApp(api, 'bld');
      const release = await deployRelease(api, app);
      await insertBuild(api, app, 1, {
        status: 'failed',
        output: 'Step 1/2 : FROM node:20\nerror: broken\n',
        error: 'build failed',
      });
      await insertBuild(api, app, 2, {
        status: 'succeeded',
        output: 'Step 1/1\nok\n',
        releaseId: release.id,
        imageRef: release.imageRef,
        processTypes: { web: 'npm start' },
      });
      await insertBuild(api, app, 3, { status: 'building' });
      await createApp(api, 'other');
    });
    after(async () => {
      await api?.close();
    });

    it('lists builds newest first, without their output', async () => {
      const res = await api.request('GET', path);
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.map((b: { number: number; status: string }) => [b.number, b.status]),
        [
          [3, 'building'],
          [2, 'succeeded'],
          [1, 'failed'],
        ],
      );
      assert.ok(res.body.every((b: object) => !('output' in b)));
      assert.deepEqual(res.body[1].release.version, 1);
      assert.equal(res.body[0].release, null);
      assert.equal(res.body[2].error, 'build failed');
      assert.deepEqual((await api.request('GET', '/api/apps/other/builds')).body, []);
    });

    it('answers one build by id or number, with its output', async () => {
      const list = (await api.request('GET', path)).body;
      const byId = await api.request('GET', `${path}/${list[1].id}`);
      assert.equal(byId.status, 200);
      assert.equal(byId.body.output, 'Step 1/1\nok\n');
      assert.equal(byId.body.commit, '2'.padStart(40, 'a'));
      assert.deepEqual((await api.request('GET', `${path}/2`)).body, byId.body);
      for (const ref of ['9', 'abc', '00000000-0000-0000-0000-000000000000']) {
        assert.equal((await api.request('GET', `${path}/${ref}`)).status, 404, ref);
      }
      assert.equal(
        (await api.request('GET', `/api/apps/other/builds/${list[1].id}`)).status,
        404,
        "another app's build",
      );
    });

    it('replays a finished build whose stream is gone from the database, then ends', async () => {
      const client = await openEvents(api.url, `${path}/1/log`, api.adminToken);
      assert.equal(client.status, 200);
      assert.match(String(client.headers['content-type']), /^text\/event-stream/);
      const events = await client.rest();
      assert.deepEqual(events, [
        { event: 'message', data: 'Step 1/2 : FROM node:20' },
        { event: 'message', data: 'error: broken' },
        { event: 'end', data: '{"status":"failed"}' },
      ]);
    });

    it('follows a running build from its first line until the worker ends it', async () => {
      const build = (await api.request('GET', `${path}/3`)).body;
      const key = buildLogKey(build.id);
      await appendLog(api.redis, key, 'build', 'Step 1/3 : FROM node:20', BUILD_LOG_MAX);
      const client = await openEvents(api.url, `${path}/3/log`, api.adminToken);
      assert.equal((await client.next()).data, 'Step 1/3 : FROM node:20');
      await appendLog(api.redis, key, 'build', 'Step 2/3 : RUN npm ci', BUILD_LOG_MAX);
      const second = await client.next();
      assert.equal(second.data, 'Step 2/3 : RUN npm ci');
      assert.match(second.id ?? '', /^\d+-\d+$/);
      await endLog(api.redis, key, 'succeeded');
      assert.deepEqual(await client.rest(), [
        {
          event: 'end',
          data: '{"status":"succeeded"}',
          id: (await api.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0],
        },
      ]);
      // a late reader of the finished build gets the whole stream again
      const late = await openEvents(api.url, `${path}/3/log`, api.adminToken);
      assert.deepEqual(
        (await late.rest()).map((e) => e.data),
        ['Step 1/3 : FROM node:20', 'Step 2/3 : RUN npm ci', '{"status":"succeeded"}'],
      );
    });

    it('stops following when the client goes away', async () => {
      await insertBuild(api, app, 4, { status: 'pending' });
      const clients = async (): Promise<number> =>
        String(await api.redis.client('LIST'))
          .trim()
          .split('\n').length;
      const baseline = await clients();
      const client = await openEvents(api.url, `${path}/4/log`, api.adminToken);
      assert.equal(client.status, 200);
      await waitFor(async () => (await clients()) === baseline + 1, 'the follower connects to redis');
      client.close();
      await waitFor(async () => (await clients()) === baseline, "the follower's redis connection is closed");
    });

    it('answers 404 before streaming for an unknown build', async () => {
      const res = await api.request('GET', `${path}/99/log`);
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'not_found');
    });
  });
}
