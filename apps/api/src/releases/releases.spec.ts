import { type App, Formation, Release } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

for (const kind of TEST_DATABASES) {
  describe(`releases on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/rel/releases';
    before(async () => {
      api = await startTestApi(kind);
      app = await createApp(api, 'rel');
      // v1: config only (no image yet); v2: first deploy; v3: config change; v4: deploy with a worker
      await api.request('PATCH', '/api/apps/rel/config-vars', { body: { MODE: 'one' } });
      await deployRelease(api, app, { image: '127.0.0.1:5000/rel:v2', processTypes: { web: 'node web.js' } });
      await api.request('PATCH', '/api/apps/rel/config-vars', { body: { MODE: 'two', EXTRA: 'x' } });
      await deployRelease(api, app, {
        image: '127.0.0.1:5000/rel:v4',
        processTypes: { web: 'node web2.js', worker: 'node worker.js' },
      });
    });
    after(async () => {
      await api?.close();
    });

    it('lists releases newest first, the newest as current, each in its state', async () => {
      const res = await api.request('GET', path);
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.map((r: { version: number; current: boolean }) => [r.version, r.current]),
        [
          [4, true],
          [3, false],
          [2, false],
          [1, false],
        ],
      );
      // no node runs anything here: v4 deploys, and v1 (config only, nothing to start) is live
      assert.deepEqual(
        res.body.map((r: { status: string; liveAt: string | null }) => [r.status, r.liveAt]),
        [
          ['deploying', null],
          ['superseded', null],
          ['superseded', null],
          ['live', null],
        ],
      );
      const v3 = res.body[1];
      assert.deepEqual(Object.keys(v3).sort(), [
        'buildId',
        'config',
        'createdAt',
        'createdBy',
        'current',
        'description',
        'error',
        'id',
        'imageDigest',
        'imageRef',
        'liveAt',
        'processTypes',
        'status',
        'version',
        'waiting',
      ]);
      assert.deepEqual(v3.config, { EXTRA: 'x', MODE: 'two' });
      assert.equal(v3.imageRef, '127.0.0.1:5000/rel:v2');
      assert.equal(v3.error, null);
    });

    it('finds a release by version, vN or id', async () => {
      const byNumber = await api.request('GET', `${path}/2`);
      assert.equal(byNumber.status, 200);
      assert.equal(byNumber.body.version, 2);
      assert.deepEqual((await api.request('GET', `${path}/v2`)).body, byNumber.body);
      assert.deepEqual((await api.request('GET', `${path}/${byNumber.body.id}`)).body, byNumber.body);
      for (const ref of ['99', 'v0', 'latest', '00000000-0000-0000-0000-000000000000', '1e3']) {
        const res = await api.request('GET', `${path}/${ref}`);
        assert.equal(res.status, 404, ref);
        assert.equal(res.body.code, 'not_found');
      }
    });

    it('rolls back to vN: a new release with its image, process types and config, and the config vars reset', async () => {
      const res = await api.request('POST', path, { body: { release: 2 } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.version, 5);
      assert.equal(res.body.description, 'Rollback to v2');
      assert.equal(res.body.imageRef, '127.0.0.1:5000/rel:v2');
      assert.deepEqual(res.body.processTypes, { web: 'node web.js' });
      assert.deepEqual(res.body.config, { MODE: 'one' });
      assert.equal(res.body.current, true);
      assert.equal(res.body.status, 'deploying', 'not live before its instances are up');
      assert.equal(res.body.liveAt, null);
      assert.equal((await api.request('GET', `${path}/4`)).body.status, 'superseded', 'the deploy it interrupted');
      assert.equal(res.body.createdBy, 'admin');
      assert.deepEqual((await api.request('GET', '/api/apps/rel/config-vars')).body, { MODE: 'one' });
      const formation = await api.dataSource.manager.find(Formation, { where: { appId: app.id } });
      assert.deepEqual(
        formation.map((f) => f.type),
        ['web'],
        'the worker of v4 is gone with v4',
      );
      const lines = await apiLogLines(api, app.id);
      assert.deepEqual(lines.slice(-2), ['Rollback to v2 by admin', 'Release v5 created by admin']);
      assert.equal((await api.request('GET', '/api/apps/rel')).body.release.version, 5);
    });

    it('refuses to roll back to a release without an image (422) or one that does not exist (404)', async () => {
      const noImage = await api.request('POST', path, { body: { release: 1 } });
      assert.equal(noImage.status, 422);
      assert.equal(noImage.body.code, 'unprocessable');
      assert.match(noImage.body.message, /no image/);
      const missing = await api.request('POST', path, { body: { release: 42 } });
      assert.equal(missing.status, 404);
      assert.equal(await api.dataSource.manager.countBy(Release, { appId: app.id }), 5, 'no release was made');
      assert.deepEqual(
        (await api.request('GET', '/api/apps/rel/config-vars')).body,
        { MODE: 'one' },
        'config untouched',
      );
    });

    it('refuses a rollback of a release that failed', async () => {
      await api.dataSource.manager.update(Release, { appId: app.id, version: 4 }, { status: 'failed' });
      const res = await api.request('POST', path, { body: { release: 4 } });
      assert.equal(res.status, 422);
      assert.match(res.body.message, /v4 is failed/);
      await api.dataSource.manager.update(Release, { appId: app.id, version: 4 }, { status: 'superseded' });
    });

    it('validates the rollback body', async () => {
      for (const body of [
        {},
        { release: '2' },
        { release: 'v2' },
        { release: 0 },
        { release: -1 },
        { release: 1.5 },
        { release: 2 ** 31 },
        { release: null },
        { release: 2, force: true },
      ]) {
        const res = await api.request('POST', path, { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.code, 'invalid_params');
        assert.ok(res.body.details.length > 0);
      }
    });

    it('gives concurrent rollbacks their own versions', async () => {
      const results = await Promise.all([2, 3, 4].map((release) => api.request('POST', path, { body: { release } })));
      assert.deepEqual(
        results.map((r) => r.status),
        [201, 201, 201],
      );
      assert.deepEqual(results.map((r) => r.body.version).sort(), [6, 7, 8]);
    });
  });
}
