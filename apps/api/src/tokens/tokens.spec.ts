import { ApiToken, hashToken, issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

for (const kind of TEST_DATABASES) {
  describe(`tokens on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
      await createApp(api, 'one');
      await createApp(api, 'two');
    });
    after(async () => {
      await api?.close();
    });

    it('lists tokens without their secrets', async () => {
      const res = await api.request('GET', '/api/tokens');
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 1);
      const [admin] = res.body;
      assert.deepEqual(Object.keys(admin).sort(), [
        'admin',
        'apps',
        'createdAt',
        'id',
        'lastUsedAt',
        'name',
        'node',
        'prefix',
      ]);
      assert.deepEqual(
        [admin.name, admin.admin, admin.apps, admin.prefix],
        ['admin', true, null, api.adminToken.slice(0, 12)],
      );
      assert.ok(!res.text.includes(api.adminToken) && !res.text.includes(hashToken(api.adminToken)));
    });

    it('makes a scoped token, shown once, that reaches only its apps', async () => {
      const res = await api.request('POST', '/api/tokens', { body: { name: 'deploy one', apps: ['one'] } });
      assert.equal(res.status, 201, res.text);
      assert.match(res.body.token, /^paas_[0-9A-Za-z]{40}$/);
      assert.deepEqual(
        [res.body.name, res.body.apps, res.body.admin, res.body.lastUsedAt],
        ['deploy one', ['one'], false, null],
      );
      assert.equal(res.body.prefix, res.body.token.slice(0, 12));
      const stored = await api.dataSource.manager.findOneByOrFail(ApiToken, { id: res.body.id });
      assert.equal(stored.hash, hashToken(res.body.token));
      assert.equal((await api.request('GET', '/api/apps/one', { token: res.body.token })).status, 200);
      assert.equal((await api.request('GET', '/api/apps/two', { token: res.body.token })).status, 403);
      assert.ok((await api.request('GET', '/api/tokens')).body.every((t: object) => !('token' in t)));
    });

    it('makes an admin token that manages tokens', async () => {
      const res = await api.request('POST', '/api/tokens', { body: { name: 'second admin', admin: true } });
      assert.equal(res.status, 201);
      assert.equal(res.body.admin, true);
      assert.equal((await api.request('GET', '/api/tokens', { token: res.body.token })).status, 200);
    });

    it('validates names, scopes and flags', async () => {
      const count = await api.dataSource.manager.count(ApiToken);
      const cases: Array<[unknown, string]> = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'x'.repeat(101) }, 'name'],
        [{ name: 'tab\there' }, 'name'],
        [{ name: 5 }, 'name'],
        [{ name: 'x', apps: 'one' }, 'apps'],
        [{ name: 'x', apps: ['Bad Name'] }, 'apps'],
        [{ name: 'x', apps: [1] }, 'apps'],
        [{ name: 'x', apps: ['one', 'one'] }, 'apps'],
        [{ name: 'x', admin: 'yes' }, 'admin'],
        [{ name: 'x', admin: null }, 'admin'],
        [{ name: 'x', admin: true, apps: ['one'] }, 'apps'],
        [{ name: 'x', node: true, apps: ['one'] }, 'node'],
        [{ name: 'x', node: true, admin: true }, 'node'],
        [{ name: 'x', node: 1 }, 'node'],
        [{ name: 'x', apps: ['a'] }, 'apps'],
        [{ name: 'x', apps: ['..'] }, 'apps'],
        [{ name: 'x', apps: ['one\u0000'] }, 'apps'],
        [{ name: 'nul\u0000' }, 'name'],
        [{ name: 'x', expires: 'never' }, 'expires'],
      ];
      for (const [body, field] of cases) {
        const res = await api.request('POST', '/api/tokens', { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(
          res.body.details.some((d: { field: string }) => d.field === field),
          `${JSON.stringify(body)}: ${res.text}`,
        );
      }
      assert.equal(await api.dataSource.manager.count(ApiToken), count);
    });

    it('refuses to scope a token to an app that does not exist, so it never gains one later', async () => {
      const count = await api.dataSource.manager.count(ApiToken);
      for (const apps of [['future'], ['one', 'future'], ['one', 'gone']]) {
        const res = await api.request('POST', '/api/tokens', { body: { name: 'early', apps } });
        assert.equal(res.status, 422, res.text);
        assert.equal(res.body.code, 'unprocessable');
        assert.equal(res.body.details[0].field, 'apps');
        assert.match(res.body.message, /no app named '(future|gone)'/);
      }
      assert.equal(await api.dataSource.manager.count(ApiToken), count, 'nothing was made');
      // one made by an older version still names it: creating the app takes the name away
      const { token: legacy } = await issueToken(api.dataSource.manager, { name: 'legacy', apps: ['future'] });
      await createApp(api, 'future');
      assert.equal((await api.request('GET', '/api/apps/future', { token: legacy })).status, 403);
      assert.deepEqual((await api.dataSource.manager.findOneByOrFail(ApiToken, { name: 'legacy' })).apps, []);
    });

    it('drops a deleted app from the tokens scoped to it: an app of the same name made later is not theirs', async () => {
      await createApp(api, 'short-lived');
      const made = await api.request('POST', '/api/tokens', { body: { name: 'ci', apps: ['short-lived', 'one'] } });
      assert.equal(made.status, 201, made.text);
      assert.equal((await api.request('DELETE', '/api/apps/short-lived')).status, 200);
      await createApp(api, 'short-lived');
      const res = await api.request('GET', '/api/apps/short-lived', { token: made.body.token });
      assert.equal(res.status, 403);
      assert.equal((await api.request('GET', '/api/apps/one', { token: made.body.token })).status, 200);
      const listed = (await api.request('GET', '/api/tokens')).body.find((t: { id: string }) => t.id === made.body.id);
      assert.deepEqual(listed.apps, ['one']);
    });

    it('revokes a token, which then fails with 401', async () => {
      const made = (await api.request('POST', '/api/tokens', { body: { name: 'short-lived', apps: null } })).body;
      assert.equal(made.apps, null);
      const res = await api.request('DELETE', `/api/tokens/${made.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.id, made.id);
      assert.equal(res.body.token, undefined);
      assert.equal((await api.request('GET', '/api/apps', { token: made.token })).status, 401);
      assert.equal((await api.request('DELETE', `/api/tokens/${made.id}`)).status, 404);
      assert.equal((await api.request('DELETE', '/api/tokens/nosuch')).status, 404);
    });

    it('keeps the last admin token', async () => {
      const admins = (await api.request('GET', '/api/tokens')).body.filter((t: { admin: boolean }) => t.admin);
      assert.equal(admins.length, 2);
      assert.equal((await api.request('DELETE', `/api/tokens/${admins[1].id}`)).status, 200);
      const last = await api.request('DELETE', `/api/tokens/${admins[0].id}`);
      assert.equal(last.status, 422);
      assert.equal(last.body.code, 'unprocessable');
      assert.equal((await api.request('GET', '/api/tokens')).status, 200);
    });
  });
}
