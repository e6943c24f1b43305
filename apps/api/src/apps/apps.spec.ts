import {
  ApiToken,
  Build,
  ConfigVar,
  Domain,
  Formation,
  Instance,
  Release,
  appLogKey,
  buildLogKey,
  issueToken,
} from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appNamed, createApp, deployRelease, insertBuild, insertInstance } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { AppsService, repoPath } from './apps.service';

for (const kind of TEST_DATABASES) {
  describe(`apps on ${kind}`, () => {
    let api: TestApi;
    // the repositories outside PAAS_ROOT, as replicas sharing storage keep them (PAAS_GIT_ROOT)
    const gitRoot = join(mkdtempSync(join(tmpdir(), 'paas-git-root-')), 'git');
    before(async () => {
      // the scheduler is not under test here: instance rows inserted by hand must not be
      // planned away by a pass racing the assertions
      api = await startTestApi(kind, {
        PAAS_DOMAIN: 'apps.test',
        PAAS_ROUTER_ADDR: '0.0.0.0:9090',
        PAAS_SCHEDULER: 'off',
        PAAS_GIT_ROOT: gitRoot,
      });
    });
    after(async () => {
      await api?.close();
      rmSync(join(gitRoot, '..'), { recursive: true, force: true });
    });

    it('creates an app and answers it with its git and web URLs', async () => {
      const res = await api.request('POST', '/api/apps', {
        body: { name: 'alpha' },
        headers: { host: 'paas.example:7000' },
      });
      assert.equal(res.status, 201, res.text);
      assert.match(res.body.id, /^[0-9a-f-]{36}$/);
      assert.equal(res.body.name, 'alpha');
      assert.equal(res.body.gitUrl, 'http://paas.example:7000/git/alpha.git');
      assert.equal(res.body.webUrl, 'http://alpha.apps.test:9090');
      assert.equal(res.body.httpsWebUrl, 'https://alpha.apps.test', "the router's HTTPS on 443 by default");
      assert.equal(res.body.release, null);
      assert.ok(!Number.isNaN(Date.parse(res.body.createdAt)) && !Number.isNaN(Date.parse(res.body.updatedAt)));
    });

    it('lists apps by name and finds one by name or id', async () => {
      await createApp(api, 'beta');
      const list = await api.request('GET', '/api/apps');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((a: { name: string }) => a.name),
        ['alpha', 'beta'],
      );
      const byName = await api.request('GET', '/api/apps/beta');
      assert.equal(byName.status, 200);
      const byId = await api.request('GET', `/api/apps/${byName.body.id}`);
      assert.deepEqual(byId.body, byName.body);
      assert.equal(
        byName.body.gitUrl,
        `${api.url}/git/beta.git`,
        'without a Host header override, the address the client used',
      );
    });

    it('shows the current release', async () => {
      const app = await appNamed(api, 'beta');
      const release = await deployRelease(api, app);
      const res = await api.request('GET', '/api/apps/beta');
      assert.deepEqual(res.body.release, { id: release.id, version: 1 });
    });

    it('refuses names that are not DNS labels, wrong types and unknown fields with the field and rule', async () => {
      for (const name of [
        'Upper',
        '1digit',
        'trailing-',
        'under_score',
        'a'.repeat(64),
        'a'.repeat(5000),
        '',
        'dot.ted',
        'sp ace',
        'a',
        'z',
        '..',
        '.',
        'a/b',
        '../etc',
        'ab\u0000',
        'ab\n',
        '-ab',
      ]) {
        const res = await api.request('POST', '/api/apps', { body: { name } });
        assert.equal(res.status, 400, `${name}: ${res.text}`);
        assert.equal(res.body.code, 'invalid_params');
        assert.deepEqual(
          res.body.details.map((d: { field: string; rule: string }) => [d.field, d.rule]),
          [['name', 'matches']],
        );
      }
      for (const body of [{ name: 42 }, { name: null }, { name: ['x'] }, {}]) {
        const res = await api.request('POST', '/api/apps', { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(res.body.details.some((d: { field: string }) => d.field === 'name'));
      }
      const extra = await api.request('POST', '/api/apps', { body: { name: 'gamma', owner: 'me' } });
      assert.equal(extra.status, 400);
      assert.deepEqual(extra.body.details, [
        { field: 'owner', rule: 'unknownField', message: 'owner is not a known field' },
      ]);
      assert.equal((await api.request('GET', '/api/apps/gamma')).status, 404, 'nothing was made');
    });

    it('refuses bodies that are not JSON objects', async () => {
      const badJson = await api.request('POST', '/api/apps', { body: '{"name": "x",' });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.body.code, 'invalid_params');
      for (const body of ['[]', '"alpha"', '42', 'null']) {
        const res = await api.request('POST', '/api/apps', { body });
        assert.equal(res.status, 400, body);
        assert.equal(res.body.code, 'invalid_params');
      }
      const none = await api.request('POST', '/api/apps');
      assert.equal(none.status, 400);
      const form = await api.request('POST', '/api/apps', {
        body: 'name=delta',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 400);
      const huge = await api.request('POST', '/api/apps', { body: { name: 'x'.repeat(2 * 1024 * 1024) } });
      assert.equal(huge.status, 413);
      assert.equal(huge.body.code, 'payload_too_large');
    });

    it('answers 409 for a name that is taken, also when requests race', async () => {
      const again = await api.request('POST', '/api/apps', { body: { name: 'alpha' } });
      assert.equal(again.status, 409);
      assert.deepEqual(again.body, { code: 'conflict', message: "app 'alpha' already exists" });
      const racing = await Promise.all(
        Array.from({ length: 6 }, () => api.request('POST', '/api/apps', { body: { name: 'racer' } })),
      );
      assert.deepEqual(racing.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);
    });

    it('answers 404 for an unknown app', async () => {
      for (const path of ['/api/apps/nosuch', '/api/apps/00000000-0000-0000-0000-000000000000']) {
        const res = await api.request('GET', path);
        assert.equal(res.status, 404);
        assert.equal(res.body.code, 'not_found');
        assert.match(res.body.message, /^app '.*' not found$/);
      }
      assert.equal((await api.request('PATCH', '/api/apps/nosuch', { body: { name: 'other' } })).status, 404);
      assert.equal((await api.request('DELETE', '/api/apps/nosuch')).status, 404);
    });

    it('renames an app with its repository and the tokens scoped to it', async () => {
      const old = await appNamed(api, 'beta');
      mkdirSync(repoPath(gitRoot, 'beta'), { recursive: true });
      writeFileSync(`${repoPath(gitRoot, 'beta')}/HEAD`, 'ref: refs/heads/main\n');
      const { record } = await issueToken(api.dataSource.manager, { name: 'ci', apps: ['beta', 'alpha'] });
      const res = await api.request('PATCH', '/api/apps/beta', { body: { name: 'bravo' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.id, old.id);
      assert.equal(res.body.name, 'bravo');
      assert.match(res.body.gitUrl, /\/git\/bravo\.git$/);
      assert.ok(existsSync(`${repoPath(gitRoot, 'bravo')}/HEAD`));
      assert.ok(!existsSync(repoPath(gitRoot, 'beta')));
      const token = await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id });
      assert.deepEqual(token.apps, ['bravo', 'alpha']);
      // a token that named `charlie` before any app had that name does not gain the renamed app
      const { record: stale } = await issueToken(api.dataSource.manager, { name: 'stale', apps: ['charlie'] });
      assert.equal((await api.request('PATCH', '/api/apps/bravo', { body: { name: 'charlie' } })).status, 200);
      assert.deepEqual((await api.dataSource.manager.findOneByOrFail(ApiToken, { id: stale.id })).apps, []);
      assert.deepEqual((await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id })).apps, [
        'charlie',
        'alpha',
      ]);
      assert.equal((await api.request('PATCH', '/api/apps/charlie', { body: { name: 'bravo' } })).status, 200);
      assert.equal((await api.request('GET', '/api/apps/beta')).status, 404);
      assert.equal((await api.request('GET', '/api/apps/bravo')).body.release?.version, 1, 'releases stay');
    });

    it('refuses a rename to a taken or invalid name and keeps the old one', async () => {
      const taken = await api.request('PATCH', '/api/apps/bravo', { body: { name: 'alpha' } });
      assert.equal(taken.status, 409);
      for (const name of ['Bad Name', 'b', '..', 'a/b', 'ab\u0000']) {
        const invalid = await api.request('PATCH', '/api/apps/bravo', { body: { name } });
        assert.equal(invalid.status, 400, name);
      }
      const same = await api.request('PATCH', '/api/apps/bravo', { body: { name: 'bravo' } });
      assert.equal(same.status, 200);
      assert.equal((await api.request('GET', '/api/apps/bravo')).status, 200);
    });

    it('deletes an app and everything of it, and nothing of other apps', async () => {
      const app = await appNamed(api, 'bravo');
      const other = await appNamed(api, 'alpha');
      const otherRelease = await deployRelease(api, other);
      const release = await api.dataSource.manager.findOneByOrFail(Release, { appId: app.id });
      await api.request('PATCH', '/api/apps/bravo/config-vars', { body: { KEY: 'value' } });
      await api.request('PATCH', '/api/apps/alpha/config-vars', { body: { KEY: 'kept' } });
      await api.request('POST', '/api/apps/bravo/domains', { body: { hostname: 'bravo.example.com' } });
      const build = await insertBuild(api, app, 1, { status: 'succeeded', releaseId: release.id });
      await insertInstance(api, app, release, 'web', 1, null);
      await insertInstance(api, other, otherRelease, 'web', 1, null);
      await api.redis.xadd(buildLogKey(build.id), '*', 'l', 'x');

      const res = await api.request('DELETE', '/api/apps/bravo');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.name, 'bravo');
      assert.equal(res.body.id, app.id);
      const m = api.dataSource.manager;
      for (const entity of [ConfigVar, Build, Release, Formation, Instance, Domain]) {
        assert.equal(await m.countBy(entity, { appId: app.id }), 0, entity.name);
        assert.ok(
          entity === Build || entity === Domain || (await m.countBy(entity, { appId: other.id })) > 0,
          `${entity.name} of alpha kept`,
        );
      }
      assert.ok(!existsSync(repoPath(gitRoot, 'bravo')));
      assert.equal(await api.redis.exists(appLogKey(app.id), buildLogKey(build.id)), 0);
      assert.ok((await api.redis.exists(appLogKey(other.id))) === 1, "alpha's log kept");
      const tokens = await m.find(ApiToken);
      assert.ok(
        tokens.every((t) => !t.apps?.includes('bravo')),
        'no token keeps the deleted name',
      );
      assert.equal((await api.request('GET', '/api/apps/bravo')).status, 404);
      const recreated = await api.request('POST', '/api/apps', { body: { name: 'bravo' } });
      assert.equal(recreated.status, 201);
      assert.equal(recreated.body.release, null, 'a new app of the same name starts empty');
    });

    it('removing an app a second time leaves a new app of its name alone', async () => {
      const stale = await createApp(api, 'charlie');
      const service = api.api.app.get(AppsService);
      await service.remove(stale);
      const fresh = await createApp(api, 'charlie');
      mkdirSync(repoPath(gitRoot, 'charlie'), { recursive: true });
      const { record } = await issueToken(api.dataSource.manager, { name: 'charlie-ci', apps: ['charlie'] });
      // a second remove of the row seen before (two clients destroying it at once)
      await service.remove(stale);
      assert.equal((await appNamed(api, 'charlie')).id, fresh.id);
      assert.ok(existsSync(repoPath(gitRoot, 'charlie')), 'its repository stays');
      assert.deepEqual((await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id })).apps, ['charlie']);
    });
  });
}
