/**
 * The platform registry as an attacker meets it, on a real `paas up`: its
 * registry process with the flags `paas up` gives it, and the logins `paas up` made under
 * $PAAS_ROOT/platform/, spoken to over loopback only.
 *
 * - anonymous clients get nothing: no upload (monolithic, session, chunk, mount), no manifest
 *   PUT, no DELETE of a tag, manifest or blob, no catalog, no pull, no token;
 * - the nodes' login pulls and does nothing else (403 DENIED); the builder's login pushes,
 *   pulls and deletes; a wrong password gets no token;
 * - `paas registry serve` takes tokens by default; `--auth none` is refused beyond loopback
 *   with an error naming the flag to use, and warns on loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '@paas/oci';
import { PaasProcess, paas, tempRoots } from '../support/cli';

const UP = /paas \S+ is up\n(?:.*\n)*?\s+registry\s+(http:\/\/\S+)\s+pid (\d+)/;

interface Login {
  readonly username: string;
  readonly password: string;
}

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly challenge: string | null;
}

const basic = (login: Login): string =>
  `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;

describe('the platform registry refuses anonymous writes and keeps logins to their rights', () => {
  const roots = tempRoots();
  let up: PaasProcess | undefined;
  let url = '';
  let builder: Login;
  let node: Login;
  /** What the builder pushed in `before`: `web:v1`, one layer. */
  const layer = Buffer.from('a release layer');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }));
  let manifest: Buffer;

  /** A token for `scope` as `login` (or anonymously); undefined when the token endpoint refuses. */
  const tokenFor = async (scope: string, login?: Login): Promise<string | undefined> => {
    const res = await fetch(`${url}/token?service=paas-registry&scope=${encodeURIComponent(scope)}`, {
      headers: login ? { Authorization: basic(login) } : {},
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    return ((await res.json()) as { token: string }).token;
  };
  const send = async (
    method: string,
    path: string,
    options: { token?: string | undefined; body?: Buffer; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}), ...options.headers },
      ...(options.body ? { body: options.body } : {}),
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { errors?: { code: string }[] }).errors?.[0]?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code, challenge: res.headers.get('www-authenticate') };
  };
  const manifestDigest = (): string => digestOf(manifest);

  before(async () => {
    up = new PaasProcess(['up'], roots.env);
    [, url = ''] = await up.waitFor(UP, 60_000);
    const platform = join(roots.root, 'platform');
    builder = JSON.parse(readFileSync(join(platform, 'registry-builder.json'), 'utf8')) as Login;
    node = JSON.parse(readFileSync(join(platform, 'registry-node.json'), 'utf8')) as Login;
    // what a build leaves: web:v1, pushed with the builder's login
    const token = await tokenFor('repository:web:pull,push', builder);
    for (const blob of [config, layer]) {
      const res = await send('POST', `/v2/web/blobs/uploads/?digest=${digestOf(blob)}`, { token, body: blob });
      assert.equal(res.status, 201, JSON.stringify(res));
    }
    manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digestOf(config),
          size: config.length,
        },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
      }),
    );
    const put = await send('PUT', '/v2/web/manifests/v1', {
      token,
      body: manifest,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(put.status, 201, JSON.stringify(put));
  });
  after(async () => {
    await up?.stop();
    roots.cleanup();
  });

  /** Every request an attacker would try, as [method, path, body?]. */
  const attacks = (): [string, string, Buffer?][] => [
    ['POST', `/v2/web/blobs/uploads/?digest=${digestOf('evil')}`, Buffer.from('evil')],
    ['POST', '/v2/web/blobs/uploads/'],
    ['POST', '/v2/evil/blobs/uploads/'],
    ['POST', `/v2/evil/blobs/uploads/?mount=${digestOf(layer)}&from=web`],
    ['PATCH', '/v2/web/blobs/uploads/00000000-0000-4000-8000-000000000000', Buffer.from('evil')],
    ['PUT', `/v2/web/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${digestOf('evil')}`],
    ['PUT', '/v2/web/manifests/v1', Buffer.from('{}')],
    ['PUT', '/v2/web/manifests/v2', Buffer.from('{}')],
    ['DELETE', '/v2/web/manifests/v1'],
    ['DELETE', `/v2/web/manifests/${manifestDigest()}`],
    ['DELETE', `/v2/web/blobs/${digestOf(layer)}`],
    ['DELETE', '/v2/web/blobs/uploads/00000000-0000-4000-8000-000000000000'],
  ];
  const reads = (): [string, string][] => [
    ['GET', '/v2/_catalog'],
    ['GET', '/v2/web/manifests/v1'],
    ['HEAD', `/v2/web/manifests/${manifestDigest()}`],
    ['GET', `/v2/web/blobs/${digestOf(layer)}`],
    ['GET', '/v2/web/tags/list'],
    ['GET', '/v2/'],
  ];

  /** web:v1 is still whole (read with the nodes' login). */
  const intact = async (): Promise<void> => {
    const token = await tokenFor('repository:web:pull', node);
    const got = await send('GET', '/v2/web/manifests/v1', { token });
    assert.equal(got.status, 200, 'the tag is still there');
    assert.equal((await send('HEAD', `/v2/web/blobs/${digestOf(layer)}`, { token })).status, 200);
    const catalog = await tokenFor('registry:catalog:*', builder);
    const list = await fetch(`${url}/v2/_catalog`, { headers: { Authorization: `Bearer ${catalog}` } });
    assert.deepEqual(((await list.json()) as { repositories: string[] }).repositories, ['web']);
  };

  it('refuses every anonymous write, delete, catalog and pull with 401 UNAUTHORIZED and a challenge', async () => {
    for (const [method, path, body] of [...attacks(), ...reads()]) {
      const res = await send(method, path, body ? { body } : {});
      assert.equal(res.status, 401, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(res.code, 'UNAUTHORIZED', `${method} ${path}`);
      assert.match(res.challenge ?? '', /^Bearer realm="[^"]+\/token",service="paas-registry"/, `${method} ${path}`);
    }
    // nor does a made-up basic login, or any header that is not a token of ours, get further
    for (const authorization of [basic({ username: 'admin', password: 'admin' }), 'Bearer e30.e30.', 'Bearer ']) {
      const res = await send('DELETE', '/v2/web/manifests/v1', { headers: { Authorization: authorization } });
      assert.equal(res.status, 401, authorization);
    }
    await intact();
  });

  it('gives anonymous clients and wrong passwords no token at all', async () => {
    for (const scope of ['repository:web:pull', 'repository:web:push', 'repository:web:delete']) {
      assert.equal(await tokenFor(scope), undefined, scope);
      assert.equal(await tokenFor(scope, { username: builder.username, password: 'guess' }), undefined, scope);
      assert.equal(await tokenFor(scope, { username: 'paas-admin', password: builder.password }), undefined, scope);
    }
    assert.equal(await tokenFor('registry:catalog:*'), undefined);
  });

  it('lets the nodes login pull and nothing else: 403 DENIED', async () => {
    const token = await tokenFor('repository:web:pull,push,delete repository:evil:pull,push', node);
    const read = await send('GET', '/v2/web/manifests/v1', { token });
    assert.equal(read.status, 200);
    for (const [method, path, body] of attacks()) {
      const res = await send(method, path, { token, ...(body ? { body } : {}) });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.code, 'DENIED', `${method} ${path}`);
    }
    // asking for everything (`*`) gives only what the login may do
    const star = await tokenFor('repository:web:*', node);
    assert.equal((await send('DELETE', '/v2/web/manifests/v1', { token: star })).code, 'DENIED');
    await intact();
  });

  it('lets the builder login push, pull and delete', async () => {
    const token = await tokenFor('repository:old:*', builder);
    const blob = Buffer.from('an old release');
    const pushed = await send('POST', `/v2/old/blobs/uploads/?digest=${digestOf(blob)}`, { token, body: blob });
    assert.equal(pushed.status, 201);
    assert.equal((await send('GET', `/v2/old/blobs/${digestOf(blob)}`, { token })).status, 200);
    assert.equal((await send('DELETE', `/v2/old/blobs/${digestOf(blob)}`, { token })).status, 202);
    assert.equal((await send('GET', `/v2/old/blobs/${digestOf(blob)}`, { token })).code, 'BLOB_UNKNOWN');
  });

  it('keeps the logins in $PAAS_ROOT/platform, readable by the owner only, the same on every up', async () => {
    for (const role of ['builder', 'node']) {
      const path = join(roots.root, 'platform', `registry-${role}.json`);
      assert.equal(statSync(path).mode & 0o777, 0o600, path);
    }
    const usersFile = readFileSync(join(roots.root, 'registry', 'auth', 'users.json'), 'utf8');
    assert.doesNotMatch(usersFile, new RegExp(builder.password), 'the store keeps hashes, not passwords');
  });
});

describe('paas registry serve: no anonymous writes unless asked for on loopback', () => {
  const roots = tempRoots();
  after(() => roots.cleanup());

  const serve = (...args: string[]): PaasProcess =>
    new PaasProcess(['registry', 'serve', '--root', join(roots.root, 'registry'), ...args], roots.env);

  it('takes tokens by default: an anonymous push is refused', async () => {
    const proc = serve('--addr', '127.0.0.1:0');
    try {
      const [, host] = await proc.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
      const res = await fetch(`http://${host}/v2/x/blobs/uploads/?digest=${digestOf('x')}`, {
        method: 'POST',
        body: 'x',
      });
      assert.equal(res.status, 401);
      const catalog = await fetch(`http://${host}/v2/_catalog`);
      assert.equal(catalog.status, 401);
      await Promise.all([res.body?.cancel(), catalog.body?.cancel()]);
    } finally {
      await proc.stop();
    }
  });

  for (const addr of ['0.0.0.0:0', '[::]:0', ':0']) {
    it(`refuses --auth none on ${addr}, naming --auth token`, async () => {
      const proc = serve('--auth', 'none', '--addr', addr);
      try {
        const exit = await Promise.race([proc.exited, proc.waitFor(/listening on/).then(() => 'listening' as const)]);
        assert.notEqual(exit, 'listening', proc.output);
        assert.deepEqual(exit, { code: 1, signal: null });
        assert.match(proc.output, /Error: --auth none would let anyone who reaches .* push, delete and list images/);
        assert.match(proc.output, /only allowed on a loopback address .*use --auth token/);
      } finally {
        await proc.stop();
      }
    });
  }

  it('runs --auth none on loopback when asked, with a warning', async () => {
    const proc = serve('--auth', 'none', '--addr', '127.0.0.1:0');
    try {
      await proc.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(proc.output, /warning: --auth none: anyone who reaches 127\.0\.0\.1:\d+ may push, delete and list/);
    } finally {
      await proc.stop();
    }
    const both = paas(['registry', 'serve', '--auth', 'none', '--anonymous-pull', '--addr', '127.0.0.1:0'], roots.env);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /--anonymous-pull needs --auth token/);
  });
});
