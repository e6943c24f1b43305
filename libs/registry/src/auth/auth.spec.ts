/**
 * Token auth end to end on the wire: challenges, the token endpoint, scopes, expiry and
 * tampering, anonymous pull, the `delete` right apart from `push`, and where a registry
 * without auth may listen.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLoopbackHost } from '@paas/config';
import { digestOf } from '@paas/oci';
import { type TestRegistry, errorCode, putBlob, putImage, testRegistry } from '../spec-support';
import { OpenRegistryError, startRegistry } from '../server/start';
import { parseScopes } from './scopes';
import { TokenSigner } from './tokens';
import { UserStore } from './users';

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function token(url: string, scope: string, authorization?: string): Promise<Response> {
  return fetch(`${url}/token?service=paas-registry&scope=${encodeURIComponent(scope)}`, {
    headers: authorization ? { Authorization: authorization } : {},
  });
}

async function tokenFor(url: string, scope: string, user: string, password: string): Promise<string> {
  const res = await token(url, scope, basic(user, password));
  assert.equal(res.status, 200);
  const body = (await res.json()) as { token: string; access_token: string; expires_in: number };
  assert.equal(body.token, body.access_token);
  assert.ok(body.expires_in > 0);
  return body.token;
}

describe('registry token auth', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await testRegistry({ auth: 'token' });
    const users = new UserStore(reg.root);
    await users.set('alice', 's3cret');
    await users.set('bob', 'readonly', 'pull');
    await users.set('carol', 'janitor', 'delete');
  });
  after(() => reg.dispose());

  it('challenges a request without a token with realm, service and scope', async () => {
    const base = await fetch(`${reg.url}/v2/`);
    assert.equal(base.status, 401);
    assert.equal(await errorCode(base), 'UNAUTHORIZED');
    assert.equal(base.headers.get('www-authenticate'), `Bearer realm="${reg.url}/token",service="paas-registry"`);
    const pull = await fetch(`${reg.url}/v2/team/app/tags/list`);
    assert.equal(pull.status, 401);
    assert.equal(
      pull.headers.get('www-authenticate'),
      `Bearer realm="${reg.url}/token",service="paas-registry",scope="repository:team/app:pull"`,
    );
    await pull.body?.cancel();
    const push = await fetch(`${reg.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:team\/app:pull,push"/);
    await push.body?.cancel();
  });

  it('refuses a wrong password and unknown users with 401', async () => {
    for (const auth of [basic('alice', 'wrong'), basic('mallory', 's3cret'), 'Basic !!!']) {
      const res = await token(reg.url, 'repository:team/app:pull', auth);
      assert.equal(res.status, 401);
      assert.equal(await errorCode(res), 'UNAUTHORIZED');
    }
    const anonymous = await token(reg.url, 'repository:team/app:pull');
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  });

  it('lets a push token push and pull', async () => {
    const t = await tokenFor(reg.url, 'repository:team/app:pull,push', 'alice', 's3cret');
    const headers = { Authorization: `Bearer ${t}` };
    const digest = await putBlob(reg.url, 'team/app', Buffer.from('pushed with a token'), headers);
    const got = await fetch(`${reg.url}/v2/team/app/blobs/${digest}`, { headers });
    assert.equal(await got.text(), 'pushed with a token');
    assert.equal((await fetch(`${reg.url}/v2/`, { headers })).status, 200);
    // the token is for team/app only
    const other = await fetch(`${reg.url}/v2/team/other/blobs/${digest}`, { headers });
    assert.equal(other.status, 403);
    assert.equal(await errorCode(other), 'DENIED');
  });

  it('does not let a pull-only token push (403 DENIED)', async () => {
    const t = await tokenFor(reg.url, 'repository:team/app:pull,push', 'bob', 'readonly');
    const claims = JSON.parse(Buffer.from(t.split('.')[1] ?? '', 'base64url').toString()) as {
      access: Array<{ actions: string[] }>;
    };
    assert.deepEqual(claims.access[0]?.actions, ['pull']);
    const res = await fetch(`${reg.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t}` },
    });
    assert.equal(res.status, 403);
    assert.equal(await errorCode(res), 'DENIED');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  });

  it('refuses expired, tampered and foreign tokens', async () => {
    const signer = await TokenSigner.open(join(reg.root, 'auth', 'token.key'));
    const access = parseScopes('repository:team/app:pull,push');
    const expired = signer.sign('alice', access, 60, Date.now() - 3600_000).token;
    const good = signer.sign('alice', access, 60).token;
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ aud: 'paas-registry', exp: 9e9, nbf: 0, access: parseScopes('repository:x:push') })).toString('base64url')}.${s}`;
    const stranger = (await TokenSigner.open(join(reg.root, 'other.key'))).sign('alice', access, 60).token;
    for (const t of [expired, forged, stranger, 'not.a.token']) {
      const res = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${t}` } });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      await res.body?.cancel();
    }
  });

  it('grants the catalog only to users', async () => {
    const t = await tokenFor(reg.url, 'registry:catalog:*', 'alice', 's3cret');
    const res = await fetch(`${reg.url}/v2/_catalog`, { headers: { Authorization: `Bearer ${t}` } });
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { repositories: string[] }).repositories.includes('team/app'));
  });

  it('gives anonymous clients pull tokens when anonymous pull is on, never push', async () => {
    const open = await testRegistry({ auth: 'token', anonymousPull: true });
    try {
      const res = await token(open.url, 'repository:pub/app:pull,push');
      assert.equal(res.status, 200);
      const t = ((await res.json()) as { token: string }).token;
      const headers = { Authorization: `Bearer ${t}` };
      assert.equal((await fetch(`${open.url}/v2/pub/app/blobs/${digestOf('x')}`, { headers })).status, 404);
      const push = await fetch(`${open.url}/v2/pub/app/blobs/uploads/`, { method: 'POST', headers });
      assert.equal(push.status, 403);
      await push.body?.cancel();
    } finally {
      await open.dispose();
    }
  });
  const claimsOf = (t: string): Array<{ type: string; name: string; actions: string[] }> =>
    (JSON.parse(Buffer.from(t.split('.')[1] ?? '', 'base64url').toString()) as { access: [] }).access;

  it('keeps delete apart from push: a pusher may add images but never remove them', async () => {
    const image = await putImage(
      reg.url,
      'team/keep',
      'v1',
      {},
      { Authorization: `Bearer ${await tokenFor(reg.url, 'repository:team/keep:pull,push', 'alice', 's3cret')}` },
    );
    for (const scope of ['repository:team/keep:pull,push,delete', 'repository:team/keep:*']) {
      const t = await tokenFor(reg.url, scope, 'alice', 's3cret');
      assert.deepEqual(claimsOf(t)[0]?.actions, ['pull', 'push'], scope);
      for (const path of ['manifests/v1', `manifests/${image.digest}`, `blobs/${image.layer}`]) {
        const res = await fetch(`${reg.url}/v2/team/keep/${path}`, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${t}` },
        });
        assert.equal(res.status, 403, path);
        assert.equal(await errorCode(res), 'DENIED');
      }
    }
    const still = await fetch(`${reg.url}/v2/team/keep/manifests/v1`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${await tokenFor(reg.url, 'repository:team/keep:pull', 'bob', 'readonly')}` },
    });
    assert.equal(still.status, 200, 'the tag survived');
  });

  it('lets a user with the delete right remove tags, manifests and blobs (`*` asks for all it may)', async () => {
    const push = await tokenFor(reg.url, 'repository:team/gone:pull,push', 'carol', 'janitor');
    const image = await putImage(reg.url, 'team/gone', 'v1', {}, { Authorization: `Bearer ${push}` });
    const t = await tokenFor(reg.url, 'repository:team/gone:*', 'carol', 'janitor');
    assert.deepEqual(claimsOf(t)[0]?.actions, ['pull', 'push', 'delete']);
    for (const path of ['manifests/v1', `manifests/${image.digest}`, `blobs/${image.layer}`]) {
      const res = await fetch(`${reg.url}/v2/team/gone/${path}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${t}` },
      });
      assert.equal(res.status, 202, path);
      await res.body?.cancel();
    }
  });

  it('challenges an anonymous DELETE for the delete scope, and refuses it without asking a password', async () => {
    const res = await fetch(`${reg.url}/v2/team/app/manifests/latest`, { method: 'DELETE' });
    assert.equal(res.status, 401);
    assert.equal(await errorCode(res), 'UNAUTHORIZED');
    assert.match(res.headers.get('www-authenticate') ?? '', /scope="repository:team\/app:delete"/);
    const anonymous = await token(reg.url, 'repository:team/app:delete');
    assert.equal(anonymous.status, 401, 'no anonymous tokens at all without anonymous pull');
    await anonymous.body?.cancel();
  });

  it('gives anonymous clients at most pull: never push, delete nor the catalog', async () => {
    const open = await testRegistry({ auth: 'token', anonymousPull: true });
    try {
      const res = await token(open.url, 'repository:pub/app:pull,push,delete,* registry:catalog:*');
      assert.equal(res.status, 200);
      const t = ((await res.json()) as { token: string }).token;
      assert.deepEqual(claimsOf(t), [{ type: 'repository', name: 'pub/app', actions: ['pull'] }]);
      const headers = { Authorization: `Bearer ${t}` };
      for (const [method, path] of [
        ['DELETE', `/v2/pub/app/manifests/latest`],
        ['DELETE', `/v2/pub/app/blobs/${digestOf('x')}`],
        ['PUT', `/v2/pub/app/manifests/latest`],
        ['GET', '/v2/_catalog'],
      ] as const) {
        const r = await fetch(`${open.url}${path}`, { method, headers });
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.equal(await errorCode(r), 'DENIED');
      }
    } finally {
      await open.dispose();
    }
  });

  it('refuses to run without auth beyond loopback, saying what to use', async () => {
    // one that starts after all is closed at once (the assertion then fails)
    const start = (host: string, auth?: 'none'): Promise<unknown> =>
      startRegistry({ root: join(reg.root, 'open'), listen: { host, port: 0 }, ...(auth ? { auth } : {}) }).then(
        async (r) => r.close(),
      );
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
      await assert.rejects(
        start(host, 'none'),
        (err: unknown) =>
          err instanceof OpenRegistryError && /loopback/.test(err.message) && /token auth/.test(err.message),
      );
      await assert.rejects(start(host), OpenRegistryError);
    }
    assert.deepEqual(
      ['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost', '0.0.0.0', '::', '10.0.0.1', '::ffff:127.0.0.1'].map(
        isLoopbackHost,
      ),
      [true, true, true, true, true, false, false, false, true],
    );
  });
});
