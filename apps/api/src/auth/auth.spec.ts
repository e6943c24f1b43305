import { ApiToken, issueToken, openDatabase } from '@paas/platform';
import { TEST_DATABASES, testDatabase } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { waitFor } from '../testing/wait';
import { adminTokenPath, ensureAdminToken } from './admin-token';
import { MAX_FAILURES } from './rate-limiter';

for (const kind of TEST_DATABASES) {
  describe(`authentication on ${kind}`, () => {
    let api: TestApi;
    let scoped: string;
    before(async () => {
      api = await startTestApi(kind);
      await createApp(api, 'mine');
      await createApp(api, 'theirs');
      scoped = (await issueToken(api.dataSource.manager, { name: 'scoped', apps: ['mine', 'future'] })).token;
    });
    after(async () => {
      await api?.close();
    });

    it('made an admin token on the first start, in a 0600 file, and only then', async () => {
      const file = adminTokenPath(api.root);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(readFileSync(file, 'utf8'), /^paas_[0-9A-Za-z]{40}\n$/);
      const tokens = await api.dataSource.manager.find(ApiToken);
      assert.ok(tokens.some((t) => t.name === 'admin' && t.admin && t.apps === null));
      assert.equal(await ensureAdminToken(api.dataSource, api.root), null, 'a second start makes none');
      assert.equal(readFileSync(file, 'utf8').trim(), api.adminToken);
    });

    it('answers 401 without a token, with a malformed or an unknown one', async () => {
      for (const authorization of [
        undefined,
        'Bearer',
        'Basic dXNlcjpwYXNz',
        `Bearer paas_${'x'.repeat(40)}`,
        `Bearer ${api.adminToken}x`,
        api.adminToken,
      ]) {
        const res = await api.request('GET', '/api/apps', {
          token: null,
          headers: authorization ? { authorization } : {},
          from: '127.0.0.3',
        });
        assert.equal(res.status, 401, String(authorization));
        assert.equal(res.body.code, 'unauthorized');
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="paas"');
      }
    });

    it('records when a token was last used, at most once a minute', async () => {
      const { token, record } = await issueToken(api.dataSource.manager, { name: 'fresh' });
      assert.equal(record.lastUsedAt, null);
      assert.equal((await api.request('GET', '/api/apps', { token })).status, 200);
      const first = (await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id })).lastUsedAt;
      assert.ok(first && Date.now() - Date.parse(first) < 10_000);
      await api.request('GET', '/api/apps', { token });
      assert.equal((await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id })).lastUsedAt, first);
    });

    it('keeps a scoped token to its apps', async () => {
      const list = await api.request('GET', '/api/apps', { token: scoped });
      assert.deepEqual(
        list.body.map((a: { name: string }) => a.name),
        ['mine'],
      );
      assert.equal((await api.request('GET', '/api/apps/mine', { token: scoped })).status, 200);
      assert.equal((await api.request('GET', '/api/apps/mine/config-vars', { token: scoped })).status, 200);
      const id = (await api.request('GET', '/api/apps/theirs')).body.id;
      for (const path of [
        '/api/apps/theirs',
        `/api/apps/${id}`,
        '/api/apps/theirs/config-vars',
        '/api/apps/theirs/releases',
        '/api/apps/nosuch',
      ]) {
        const res = await api.request('GET', path, { token: scoped });
        assert.equal(res.status, 403, path);
        assert.equal(res.body.code, 'forbidden');
      }
      assert.equal((await api.request('DELETE', '/api/apps/theirs', { token: scoped })).status, 403);
      assert.equal(
        (await api.request('GET', '/api/apps/future', { token: scoped })).status,
        404,
        'an app in its scope that does not exist yet',
      );
      const create = await api.request('POST', '/api/apps', { token: scoped, body: { name: 'future' } });
      assert.equal(create.status, 403, 'scoped tokens do not make apps');
      assert.equal((await api.request('GET', '/api/nodes', { token: scoped })).status, 200);
    });

    it('keeps tokens management to admin tokens', async () => {
      const { token: everyApp } = await issueToken(api.dataSource.manager, { name: 'all-apps' });
      for (const token of [scoped, everyApp]) {
        assert.equal((await api.request('GET', '/api/tokens', { token })).status, 403);
        assert.equal((await api.request('POST', '/api/tokens', { token, body: { name: 'x' } })).status, 403);
      }
      assert.equal((await api.request('GET', '/api/apps/theirs', { token: everyApp })).status, 200);
    });

    it('lets a node token register and heartbeat, and nothing else', async () => {
      const { token: node } = await issueToken(api.dataSource.manager, { name: 'node-n1', node: true });
      const register = await api.request('POST', '/api/nodes/register', {
        token: node,
        body: { name: 'n1', address: '127.0.0.1', memory: 1024, cpus: 1000 },
      });
      assert.equal(register.status, 201, register.text);
      const beat = await api.request('POST', '/api/nodes/n1/heartbeat', { token: node, body: { instances: [] } });
      assert.equal(beat.status, 200, beat.text);
      assert.deepEqual(beat.body.instances, []);
      const mineId = (await api.request('GET', '/api/apps/mine')).body.id;
      for (const [method, path, body] of [
        ['GET', '/api/apps', undefined],
        ['POST', '/api/apps', { name: 'by-node' }],
        ['GET', '/api/apps/mine', undefined],
        ['GET', `/api/apps/${mineId}`, undefined],
        ['GET', '/api/apps/mine/config-vars', undefined],
        ['PATCH', '/api/apps/mine/config-vars', { A: 'b' }],
        ['GET', '/api/apps/mine/releases', undefined],
        ['GET', '/api/apps/mine/builds', undefined],
        ['GET', '/api/apps/mine/instances', undefined],
        ['PATCH', '/api/apps/mine/formation', { updates: [{ type: 'web', quantity: 1 }] }],
        ['POST', '/api/apps/mine/runs', { command: 'id' }],
        ['GET', '/api/apps/mine/logs', undefined],
        ['DELETE', '/api/apps/mine', undefined],
        ['GET', '/api/apps/nosuch', undefined],
        ['GET', '/api/tokens', undefined],
        ['POST', '/api/tokens', { name: 'escalate', admin: true }],
        ['GET', '/api/nodes', undefined],
        ['POST', '/api/nodes/n1/drain', undefined],
        ['POST', '/api/nodes/n1/activate', undefined],
      ] as const) {
        const res = await api.request(method, path, { token: node, ...(body ? { body } : {}) });
        assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
        assert.equal(res.body.code, 'forbidden');
      }
      assert.equal((await api.request('GET', '/api/apps/mine')).status, 200, 'the app is still there');
      const tokens = (await api.request('GET', '/api/tokens')).body as { name: string; node: boolean }[];
      assert.equal(tokens.find((t) => t.name === 'node-n1')?.node, true);
      assert.ok(!tokens.some((t) => t.name === 'escalate'));
      for (const token of [scoped, (await issueToken(api.dataSource.manager, { name: 'every-app' })).token]) {
        const res = await api.request('POST', '/api/nodes/n1/heartbeat', { token, body: { instances: [] } });
        assert.equal(res.status, 403, 'app tokens are no nodes');
      }
      const admin = await api.request('POST', '/api/nodes/n1/heartbeat', { body: { instances: [] } });
      assert.equal(admin.status, 200, 'agents with an admin token keep working');
    });

    it('makes node tokens through the api, for no app and not admin', async () => {
      const made = await api.request('POST', '/api/tokens', { body: { name: 'agent-2', node: true } });
      assert.equal(made.status, 201, made.text);
      assert.equal(made.body.node, true);
      assert.equal(made.body.admin, false);
      assert.equal(made.body.apps, null);
      const beat = await api.request('POST', '/api/nodes/register', {
        token: made.body.token,
        body: { name: 'n2', address: '127.0.0.1', memory: 1024, cpus: 1000 },
      });
      assert.equal(beat.status, 201);
      for (const body of [
        { name: 'x', node: true, admin: true },
        { name: 'x', node: true, apps: ['mine'] },
        { name: 'x', node: true, apps: [] },
        { name: 'x', node: 'yes' },
      ]) {
        const res = await api.request('POST', '/api/tokens', { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.code, 'invalid_params');
      }
    });

    it(`refuses failures from an address after ${MAX_FAILURES} of them, never a valid token`, async () => {
      const from = '127.0.0.2';
      for (let i = 0; i < MAX_FAILURES; i++) {
        assert.equal((await api.request('GET', '/api/apps', { token: 'wrong', from })).status, 401);
      }
      for (const token of ['wrong', `paas_${'z'.repeat(40)}`]) {
        const res = await api.request('GET', '/api/apps', { token, from });
        assert.equal(res.status, 429);
        assert.equal(res.body.code, 'rate_limited');
        const retry = Number(res.headers['retry-after']);
        assert.ok(retry >= 1 && retry <= 60, String(retry));
      }
      const { token: scopedMine } = await issueToken(api.dataSource.manager, { name: 'limited-mine', apps: ['mine'] });
      for (const [token, path] of [
        [api.adminToken, '/api/apps'],
        [scopedMine, '/api/apps/mine'],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          const res = await api.request('GET', path, { token, from });
          assert.equal(res.status, 200, `a valid token from a refused address: ${res.text}`);
        }
      }
      assert.equal(
        (await api.request('GET', '/api/apps', { token: 'wrong', from })).status,
        429,
        'a valid token does not forgive the failures',
      );
      assert.equal(
        (await api.request('GET', '/api/health', { token: null, from })).status,
        200,
        'public routes stay open',
      );
      assert.equal(
        (await api.request('GET', '/api/apps', { token: 'wrong', from: '127.0.0.4' })).status,
        401,
        'other addresses are not affected',
      );
    });
  });
}

describe('the first admin token on a new PostgreSQL database', () => {
  it('is made once when two apis start at the same moment', async (t) => {
    const db = await testDatabase('postgres');
    t.after(() => db.dispose());
    const roots = mkdtempSync(join(tmpdir(), 'paas-admin-token-'));
    t.after(() => rmSync(roots, { recursive: true, force: true }));
    // two api processes: a connection pool each, on one database
    const [one, two] = await Promise.all(
      ['one', 'two'].map((name) => openDatabase({ url: db.url, platformDir: join(roots, name) })),
    );
    t.after(async () => {
      await one?.destroy();
      await two?.destroy();
    });
    if (!one || !two) throw new Error('two data sources expected');
    // the worst moment, made certain: inserts wait (reads do not) until both apis are waiting,
    // each having looked for a token already, unless one waits for the other to finish first
    const gate = one.createQueryRunner();
    t.after(() => gate.release());
    await gate.startTransaction();
    await gate.query('LOCK TABLE "api_tokens" IN EXCLUSIVE MODE');
    const starting = Promise.all([
      ensureAdminToken(one, join(roots, 'one')),
      ensureAdminToken(two, join(roots, 'two')),
    ]);
    await waitFor(async () => {
      const [row] = (await gate.query(
        `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )) as { n: string }[];
      return Number(row?.n) >= 2;
    }, 'both apis wait');
    await gate.commitTransaction();
    const made = await starting;
    assert.equal(made.filter((token) => token !== null).length, 1, 'one of them made it');
    assert.equal(await one.manager.count(ApiToken), 1);
  });
});
