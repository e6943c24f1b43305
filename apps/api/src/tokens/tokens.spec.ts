import { ApiToken, hashToken } from '@paas/platform';
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
      assert.deepEqual(Object.keys(admin).sort(), ['admin', 'apps', 'createdAt', 'id', 'lastUsedAt', 'name', 'prefix']);
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
