/**
 * Join tokens, `POST /api/nodes/join`, node credentials bound to their node's name and
 * `DELETE /api/nodes/:name` with revocation (join.service.ts), on SQLite and PostgreSQL.
 */
import { ApiToken, JoinToken, Node, caHash, hashToken, issueToken } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

const REGISTER = { address: '10.0.0.2', memory: 1024, cpus: 1000 };

for (const kind of TEST_DATABASES) {
  describe(`joining nodes on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      // the scheduler off: these specs speak the protocol, and a pass would move instances
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off', PAAS_NODE_REGISTRY_ADDR: '10.0.0.1:5000' });
    });
    after(async () => {
      await api?.close();
    });

    const joinToken = async (ttl?: string): Promise<string> => {
      const res = await api.request('POST', '/api/nodes/join-tokens', { body: ttl ? { ttl } : {} });
      assert.equal(res.status, 201, res.text);
      return res.body.token;
    };
    const joinAs = (token: string | null, body: unknown) =>
      api.request('POST', '/api/nodes/join', { token, body, from: '127.0.0.5' });
    const nodeNames = async (): Promise<string[]> =>
      (await api.request('GET', '/api/nodes')).body.map((n: { name: string }) => n.name);

    it('serves the platform CA to anyone, as its PEM', async () => {
      const res = await api.request('GET', '/api/ca', { token: null });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/x-pem-file/);
      assert.equal(res.text, readFileSync(join(api.root, 'platform', 'tls', 'ca.crt'), 'utf8'));
    });

    it('makes a join token (admin only), shown once with the CA hash and the command to run', async () => {
      const before = Date.now();
      const res = await api.request('POST', '/api/nodes/join-tokens', { body: {} });
      assert.equal(res.status, 201, res.text);
      const pem = (await api.request('GET', '/api/ca', { token: null })).text;
      assert.match(res.body.token, /^pjoin_[0-9A-Za-z]{40}$/);
      assert.equal(res.body.caHash, caHash(pem));
      assert.equal(res.body.command, `paas node join ${api.url} --token ${res.body.token} --ca-hash ${caHash(pem)}`);
      const ttl = Date.parse(res.body.expiresAt) - before;
      assert.ok(ttl > 3_590_000 && ttl <= 3_600_000 + 5_000, `default ttl 1h, got ${ttl} ms`);
      assert.equal(res.body.usedAt, null);
      const stored = await api.dataSource.manager.findOneByOrFail(JoinToken, { id: res.body.id });
      assert.equal(stored.hash, hashToken(res.body.token), 'stored hashed');
      const listed = await api.request('GET', '/api/nodes/join-tokens');
      assert.ok(listed.body.some((t: { id: string }) => t.id === res.body.id));
      assert.ok(!listed.text.includes(res.body.token), 'never listed with its secret');
      const thirty = await api.request('POST', '/api/nodes/join-tokens', { body: { ttl: '30m' } });
      const ms = Date.parse(thirty.body.expiresAt) - Date.parse(thirty.body.createdAt);
      assert.ok(ms > 1_790_000 && ms < 1_810_000, String(ms));
      const { token: apps } = await issueToken(api.dataSource.manager, { name: 'apps' });
      const { token: node } = await issueToken(api.dataSource.manager, { name: 'n', node: true });
      for (const token of [apps, node]) {
        assert.equal((await api.request('POST', '/api/nodes/join-tokens', { token, body: {} })).status, 403);
        assert.equal((await api.request('GET', '/api/nodes/join-tokens', { token })).status, 403);
      }
    });

    it('refuses a bad ttl with 400 and makes nothing', async () => {
      const count = await api.dataSource.manager.count(JoinToken);
      for (const ttl of ['0h', '25h', '59s', '1d', 'an hour', '1.5h', '', 5, null]) {
        const res = await api.request('POST', '/api/nodes/join-tokens', { body: { ttl } });
        assert.equal(res.status, 400, `${JSON.stringify(ttl)}: ${res.text}`);
        assert.equal(res.body.details[0].field, 'ttl', res.text);
      }
      assert.equal(
        (await api.request('POST', '/api/nodes/join-tokens', { body: { ttl: '24h', more: 1 } })).status,
        400,
      );
      assert.equal(await api.dataSource.manager.count(JoinToken), count);
    });

    it('joins a node: a credential bound to its name, the api and the registry; the token is spent', async () => {
      const token = await joinToken();
      const res = await joinAs(token, { name: 'joined-1', address: '10.0.0.2' });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ['apiUrl', 'name', 'nodeToken', 'registry']);
      assert.equal(res.body.name, 'joined-1');
      assert.equal(res.body.apiUrl, api.url);
      assert.deepEqual(res.body.registry, { address: '10.0.0.1:5000', username: null, password: null });
      const credential = await api.dataSource.manager.findOneByOrFail(ApiToken, {
        hash: hashToken(res.body.nodeToken),
      });
      assert.deepEqual([credential.node, credential.admin, credential.nodeName], [true, false, 'joined-1']);
      assert.deepEqual(await nodeNames(), [], 'the node row appears when its agent registers');
      const used = await api.dataSource.manager.findOneByOrFail(JoinToken, { hash: hashToken(token) });
      assert.ok(used.usedAt !== null);
      assert.equal(used.nodeName, 'joined-1');
      const listed = (await api.request('GET', '/api/nodes/join-tokens')).body.find(
        (t: { id: string }) => t.id === used.id,
      );
      assert.equal(listed.nodeName, 'joined-1');

      const nodeToken = res.body.nodeToken;
      const register = await api.request('POST', '/api/nodes/register', {
        token: nodeToken,
        body: { name: 'joined-1', ...REGISTER },
      });
      assert.equal(register.status, 201, register.text);
      const beat = await api.request('POST', '/api/nodes/joined-1/heartbeat', {
        token: nodeToken,
        body: { instances: [] },
      });
      assert.equal(beat.status, 200, beat.text);
      assert.deepEqual(await nodeNames(), ['joined-1']);
    });

    it('keeps a bound credential to its own node: 403 as any other', async () => {
      const { token } = await issueToken(api.dataSource.manager, { name: 'node b1', node: true, nodeName: 'b1' });
      await insertNode(api, 'other');
      const register = await api.request('POST', '/api/nodes/register', {
        token,
        body: { name: 'other', ...REGISTER },
      });
      assert.equal(register.status, 403, register.text);
      assert.equal(register.body.message, 'this node credential belongs to node b1');
      const beat = await api.request('POST', '/api/nodes/other/heartbeat', { token, body: { instances: [] } });
      assert.equal(beat.status, 403);
      assert.equal(beat.body.message, 'this node credential belongs to node b1');
      assert.equal((await api.request('GET', '/api/nodes', { token })).status, 403, 'still a node token');
      const own = await api.request('POST', '/api/nodes/register', { token, body: { name: 'b1', ...REGISTER } });
      assert.equal(own.status, 201, own.text);
      // an unbound node token (tokens:create --node, paas up's agent) acts as any node, as before
      const { token: unbound } = await issueToken(api.dataSource.manager, { name: 'any', node: true });
      const any = await api.request('POST', '/api/nodes/other/heartbeat', { token: unbound, body: { instances: [] } });
      assert.equal(any.status, 200, any.text);
    });

    it('refuses an unknown, an expired and a used join token with 401, and leaves no credential', async () => {
      const credentials = await api.dataSource.manager.count(ApiToken);
      const unknown = await joinAs(`pjoin_${'x'.repeat(40)}`, { name: 'j-unknown' });
      assert.equal(unknown.status, 401, unknown.text);
      assert.equal(unknown.body.message, 'unknown join token');

      const expiring = await joinToken();
      const expiresAt = new Date(Date.now() - 1000).toISOString();
      await api.dataSource.manager.update(JoinToken, { hash: hashToken(expiring) }, { expiresAt });
      const expired = await joinAs(expiring, { name: 'j-expired' });
      assert.equal(expired.status, 401);
      assert.equal(expired.body.message, `join token expired at ${expiresAt}`);

      const once = await joinToken();
      assert.equal((await joinAs(once, { name: 'j-once' })).status, 201);
      const again = await joinAs(once, { name: 'j-twice' });
      assert.equal(again.status, 401);
      assert.equal(again.body.message, 'join token already used');
      assert.equal(await api.dataSource.manager.count(ApiToken), credentials + 1, 'only the one join made one');
      assert.equal(
        await api.dataSource.manager.count(ApiToken, { where: { nodeName: 'j-twice' } }),
        0,
        'nothing for the refused name',
      );
    });

    it('gives one of two joins racing on one token the credential', async () => {
      const token = await joinToken();
      const answers = await Promise.all(['race-a', 'race-b'].map((name) => joinAs(token, { name })));
      assert.deepEqual(answers.map((a) => a.status).sort(), [201, 401]);
      const issued = await api.dataSource.manager.count(ApiToken, {
        where: [{ nodeName: 'race-a' }, { nodeName: 'race-b' }],
      });
      assert.equal(issued, 1);
    });

    it('gives one of two joins racing for one name with two tokens the name', async () => {
      const [a, b] = [await joinToken(), await joinToken()];
      const answers = await Promise.all([a, b].map((token) => joinAs(token, { name: 'contested' })));
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409]);
      assert.equal(await api.dataSource.manager.count(ApiToken, { where: { nodeName: 'contested' } }), 1);
    });

    it('refuses a name taken by a node or by a joined one, and keeps the token for another name', async () => {
      await insertNode(api, 'taken');
      const token = await joinToken();
      for (const name of ['taken', 'joined-1']) {
        const res = await joinAs(token, { name });
        assert.equal(res.status, 409, res.text);
        assert.equal(
          res.body.message,
          `node ${name} already exists: pick another --name or \`paas nodes:remove ${name}\` first`,
        );
      }
      const bad = await joinAs(token, { name: 'Bad Name!' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.details[0].field, 'name');
      assert.equal((await joinAs(token, { name: 'ok', address: 'not-an-ip' })).status, 400);
      assert.equal((await joinAs(token, { name: 'free-name' })).status, 201, 'the token was not spent');
    });

    it('lets a join token reach nothing but the join, and the join nothing but join and admin tokens', async () => {
      const token = await joinToken();
      for (const [method, path, body] of [
        ['GET', '/api/apps', undefined],
        ['GET', '/api/nodes', undefined],
        ['POST', '/api/nodes/register', { name: 'sneaky', ...REGISTER }],
        ['POST', '/api/nodes/join-tokens', {}],
        ['GET', '/api/tokens', undefined],
      ] as const) {
        const res = await api.request(method, path, { token, body });
        assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
        assert.equal(res.body.message, 'a join token may only join a node (POST /api/nodes/join)');
      }
      const { token: apps } = await issueToken(api.dataSource.manager, { name: 'apps2' });
      const { token: node } = await issueToken(api.dataSource.manager, { name: 'node2', node: true });
      for (const other of [apps, node]) assert.equal((await joinAs(other, { name: 'via-other' })).status, 403);
      assert.equal((await joinAs(null, { name: 'via-none' })).status, 401);
      const admin = await joinAs(api.adminToken, { name: 'by-admin' });
      assert.equal(admin.status, 201, admin.text);
      assert.equal((await joinAs(token, { name: 'still-usable' })).status, 201);
    });

    it('revokes a join token, which then is unknown', async () => {
      const made = (await api.request('POST', '/api/nodes/join-tokens', { body: {} })).body;
      const res = await api.request('DELETE', `/api/nodes/join-tokens/${made.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.token, undefined);
      assert.equal((await joinAs(made.token, { name: 'after-revoke' })).status, 401);
      assert.equal((await api.request('DELETE', `/api/nodes/join-tokens/${made.id}`)).status, 404);
      assert.equal((await api.request('DELETE', '/api/nodes/join-tokens/nosuch')).status, 404);
    });

    it('removes a node: its credentials revoked (401 with the reason), its row gone, its name free again', async () => {
      const joined = await joinAs(await joinToken(), { name: 'leaving' });
      const nodeToken = joined.body.nodeToken;
      await api.request('POST', '/api/nodes/register', { token: nodeToken, body: { name: 'leaving', ...REGISTER } });
      const { token: apps } = await issueToken(api.dataSource.manager, { name: 'apps3' });
      assert.equal((await api.request('DELETE', '/api/nodes/leaving', { token: apps })).status, 403);
      assert.equal((await api.request('DELETE', '/api/nodes/nosuch')).status, 404);
      const res = await api.request('DELETE', '/api/nodes/leaving');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { name: 'leaving', removed: true, revoked: 1, replaced: 0 });
      assert.ok(!(await nodeNames()).includes('leaving'));
      const beat = await api.request('POST', '/api/nodes/leaving/heartbeat', {
        token: nodeToken,
        body: { instances: [] },
      });
      assert.equal(beat.status, 401);
      assert.equal(beat.body.message, 'node credential revoked: node leaving was removed (paas nodes:remove)');
      const tokens = (await api.request('GET', '/api/tokens')).body as { prefix: string }[];
      assert.ok(!tokens.some((t) => nodeToken.startsWith(t.prefix)), 'no longer listed as a token');
      assert.equal((await api.request('DELETE', '/api/nodes/leaving')).status, 404);
      const back = await joinAs(await joinToken(), { name: 'leaving' });
      assert.equal(back.status, 201, back.text);
    });

    it('revokes the credential of a node that joined but never registered', async () => {
      const joined = await joinAs(await joinToken(), { name: 'never-up' });
      const res = await api.request('DELETE', '/api/nodes/never-up');
      assert.deepEqual(res.body, { name: 'never-up', removed: false, revoked: 1, replaced: 0 });
      const register = await api.request('POST', '/api/nodes/register', {
        token: joined.body.nodeToken,
        body: { name: 'never-up', ...REGISTER },
      });
      assert.equal(register.status, 401);
    });

    it('refuses to remove a node with instances unless forced', async () => {
      const app = await createApp(api, 'busy');
      const release = await deployRelease(api, app);
      const node = await insertNode(api, 'busy-node');
      await insertInstance(api, app, release, 'web', 1, node);
      const refused = await api.request('DELETE', '/api/nodes/busy-node');
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /still runs 1 instance: `paas nodes:drain busy-node`.*--force/);
      assert.equal(await api.dataSource.manager.count(Node, { where: { name: 'busy-node' } }), 1);
      assert.equal((await api.request('DELETE', '/api/nodes/busy-node?force=maybe')).status, 400);
      const forced = await api.request('DELETE', '/api/nodes/busy-node?force=true');
      assert.equal(forced.status, 200, forced.text);
      assert.deepEqual(forced.body, { name: 'busy-node', removed: true, revoked: 0, replaced: 1 });
    });
  });
}
