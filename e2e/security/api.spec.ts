/**
 * The api as an attacker meets it, on a real `paas up`: its api,
 * registry, agent and router processes under temporary roots, spoken to over loopback only.
 *
 * - floods of bad tokens from one address never lock out a valid token: the agent, which
 *   reaches the api from the same 127.0.0.1 as the flood, keeps its node up;
 * - the agent holds a node token, and a node token reaches nothing but register and heartbeat;
 * - an app token reaches only its apps, and never gains an app by its name;
 * - over-deep JSON, NUL bytes and names outside the documented rules get a 4xx, never a 500.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PaasProcess, tempRoots } from '../support/cli';
import { gitAsync, gitEnv, waitFor } from '../support/platform';

const UP = /paas \S+ is up\n[\s\S]*?\s+api\s+(http:\/\/\S+)\s+pid (\d+)[\s\S]*?\n\s+agent\s+\S+\s+pid (\d+)/;

interface Answer {
  readonly status: number;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- specs index into answers freely
  readonly body: any;
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * One request with the path sent exactly as given (fetch and URL would resolve `..` and
 * `%2e%2e` before the api sees them), a raw string body, and any Authorization header.
 */
function send(
  base: string,
  method: string,
  path: string,
  options: { token?: string | null; authorization?: string; body?: string | object } = {},
): Promise<Answer> {
  const url = new URL(base);
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  else if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A 4xx with the api's error body: `{code, message}`. */
function assertRefused(res: Answer, what: string, status?: number): void {
  if (status !== undefined) assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  else assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(typeof res.body?.code, 'string', `${what}: ${res.text.slice(0, 300)}`);
  assert.equal(typeof res.body?.message, 'string', what);
}

describe('security: the api against floods, node tokens, scopes and hostile input', () => {
  const roots = tempRoots();
  let up: PaasProcess;
  let api = '';
  let agentPid = 0;
  let admin = '';
  let nodeToken = '';
  const as =
    (token: string | null) =>
    (method: string, path: string, body?: string | object): Promise<Answer> =>
      send(api, method, path, { token, ...(body !== undefined ? { body } : {}) });
  const asAdmin = (method: string, path: string, body?: string | object): Promise<Answer> =>
    as(admin)(method, path, body);

  before(async () => {
    up = new PaasProcess(['up'], roots.env);
    const match = await up.waitFor(UP, 120_000);
    api = match[1] ?? '';
    agentPid = Number(match[3]);
    admin = readFileSync(join(roots.root, 'platform', 'admin.token'), 'utf8').trim();
    await waitFor('the agent registered its node', 30_000, async () => {
      const nodes = (await asAdmin('GET', '/api/nodes')).body as { state: string }[];
      return nodes.length === 1 && nodes[0]?.state === 'up';
    });
    for (const name of ['victim', 'mine']) assert.equal((await asAdmin('POST', '/api/apps', { name })).status, 201);
    const set = await asAdmin('PATCH', '/api/apps/victim/config-vars', { SECRET: 'the victim secret' });
    assert.equal(set.status, 200, set.text);
  });
  after(async () => {
    await up?.stop();
    roots.cleanup();
  });

  it('paas up gives its agent a node token of its own, 0600, never the admin token', async () => {
    const file = join(roots.root, 'platform', 'node.token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    nodeToken = readFileSync(file, 'utf8').trim();
    assert.match(nodeToken, /^paas_[0-9A-Za-z]{40}$/);
    assert.notEqual(nodeToken, admin);
    const tokens = (await asAdmin('GET', '/api/tokens')).body as {
      prefix: string;
      node: boolean;
      admin: boolean;
      lastUsedAt: string | null;
    }[];
    const mine = tokens.find((t) => nodeToken.startsWith(t.prefix));
    assert.ok(mine?.node && !mine.admin, JSON.stringify(tokens));
    assert.ok(mine.lastUsedAt, 'the agent authenticates with it');
    const environ = readFileSync(`/proc/${agentPid}/environ`, 'utf8');
    assert.ok(!environ.includes(admin), "the admin token is not in the agent's environment");
    assert.ok(!readdirSync(join(roots.root, 'platform')).some((f) => f.endsWith('.tmp')), 'no temp file left');
  });

  it('a node token registers and heartbeats, and reaches no app, config var, token or admin route', async () => {
    const node = as(nodeToken);
    const [{ name }] = (await asAdmin('GET', '/api/nodes')).body as [{ name: string }];
    const victimId = (await asAdmin('GET', '/api/apps/victim')).body.id as string;
    for (const [method, path, body] of [
      ['GET', '/api/apps/victim/config-vars'],
      ['GET', `/api/apps/${victimId}/config-vars`],
      ['PATCH', '/api/apps/victim/config-vars', { SECRET: 'overwritten' }],
      ['GET', '/api/apps'],
      ['GET', '/api/apps/victim'],
      ['GET', '/api/apps/victim/releases'],
      ['GET', '/api/apps/victim/instances'],
      ['POST', '/api/apps/victim/runs', { command: 'env' }],
      ['POST', '/api/apps', { name: 'by-node' }],
      ['DELETE', '/api/apps/victim'],
      ['GET', '/api/tokens'],
      ['POST', '/api/tokens', { name: 'escalate', admin: true }],
      ['POST', '/api/tokens', { name: 'another', node: true }],
      ['GET', '/api/nodes'],
      ['POST', `/api/nodes/${name}/drain`],
    ] as const) {
      assertRefused(await node(method, path, body), `node token ${method} ${path}`, 403);
    }
    const clone = await gitAsync(
      gitEnv(roots.root),
      roots.root,
      'ls-remote',
      `${api.replace('http://', `http://node:${nodeToken}@`)}/git/victim.git`,
    );
    assert.notEqual(clone.status, 0, 'git with a node token');
    assert.match(clone.output, /403|may not use app/);
    const beat = await node('POST', `/api/nodes/${name}/heartbeat`, { instances: [] });
    assert.equal(beat.status, 200, beat.text);
    assert.equal((await asAdmin('GET', '/api/apps/victim/config-vars')).body.SECRET, 'the victim secret');
    assert.equal((await asAdmin('GET', '/api/apps/by-node')).status, 404);
  });

  it('an app token reaches only its apps and never gains an app by its name', async () => {
    const scoped = await asAdmin('POST', '/api/tokens', { name: 'mine-only', apps: ['mine'] });
    assert.equal(scoped.status, 201, scoped.text);
    const token = as(scoped.body.token);
    const victimId = (await asAdmin('GET', '/api/apps/victim')).body.id as string;
    for (const [method, path, body] of [
      ['GET', '/api/apps/victim/config-vars'],
      ['GET', `/api/apps/${victimId}/config-vars`],
      ['GET', '/api/apps/VICTIM'],
      ['PATCH', '/api/apps/victim/config-vars', { SECRET: 'x' }],
      ['PATCH', '/api/apps/mine', { name: 'victim' }],
      ['POST', '/api/apps', { name: 'newapp' }],
      ['POST', '/api/tokens', { name: 'wider' }],
      ['POST', '/api/nodes/register', { name: 'rogue', address: '127.0.0.1', memory: 1024, cpus: 1000 }],
    ] as const) {
      const res = await token(method, path, body);
      assert.ok([403, 404, 409].includes(res.status), `${method} ${path}: ${res.status} ${res.text}`);
      assert.notEqual(res.status, 404, `${method} ${path} must not tell whether the app exists`);
    }
    const push = await gitAsync(
      gitEnv(roots.root),
      roots.root,
      'ls-remote',
      `${api.replace('http://', `http://git:${scoped.body.token}@`)}/git/victim.git`,
    );
    assert.notEqual(push.status, 0);

    // a scope for an app that does not exist yet is refused, so nobody can pre-claim a name
    for (const apps of [['future'], ['mine', 'future']]) {
      assertRefused(await asAdmin('POST', '/api/tokens', { name: 'early', apps }), `scope ${apps.join(',')}`, 422);
    }
    // a deleted and re-created app is not the old token's
    assert.equal((await asAdmin('POST', '/api/apps', { name: 'reborn' })).status, 201);
    const old = await asAdmin('POST', '/api/tokens', { name: 'reborn-ci', apps: ['reborn', 'mine'] });
    assert.equal(old.status, 201);
    assert.equal((await asAdmin('DELETE', '/api/apps/reborn')).status, 200);
    assert.equal((await asAdmin('POST', '/api/apps', { name: 'reborn' })).status, 201);
    assertRefused(await as(old.body.token)('GET', '/api/apps/reborn'), 'the re-created app', 403);
    assert.equal((await as(old.body.token)('GET', '/api/apps/mine')).status, 200);
  });

  it('refuses deep JSON, NUL bytes and names outside the rules with a 4xx, on every route', async () => {
    const doc = (await send(api, 'GET', '/api/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const good: Record<string, string> = {
      app: 'mine',
      type: 'web',
      name: 'nosuch-node',
      id: '00000000-0000-0000-0000-000000000000',
      hostname: 'nosuch.example.test',
      version: '1',
    };
    const deep = (n: number): string => `{"name":${'['.repeat(n)}${']'.repeat(n)}}`;
    let bodies = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations).filter((m) => ['post', 'patch', 'put'].includes(m))) {
        const at = path.replace(/\{(\w+)\}/g, (_, p: string) => good[p] ?? 'x');
        for (const n of [40, 3000]) {
          const res = await asAdmin(method.toUpperCase(), at, deep(n));
          assertRefused(res, `${method} ${at} ${n} deep`, 400);
          assert.match(res.body.message, /nested deeper than 32/);
        }
        bodies++;
      }
    }
    assert.ok(bodies >= 12, `${bodies} routes with a body`);

    for (const body of [{ A: 'x\u0000y' }, { 'A\u0000B': 'x' }, { '../A': 'x' }, { A: 'x'.repeat(40_000) }]) {
      assertRefused(await asAdmin('PATCH', '/api/apps/mine/config-vars', body), JSON.stringify(body).slice(0, 40), 400);
    }
    assert.deepEqual((await asAdmin('GET', '/api/apps/mine/config-vars')).body, {}, 'nothing was set');
    const run = await asAdmin('POST', '/api/apps/mine/runs', { command: 'env', env: { A: 'x\u0000' } });
    assertRefused(run, 'a run with NUL in its env', 400);

    for (const name of ['a', '..', 'a/b', '../etc', 'ab\u0000', 'x'.repeat(64), 'UPPER', '-ab']) {
      assertRefused(await asAdmin('POST', '/api/apps', { name }), `app name ${JSON.stringify(name)}`, 400);
      assertRefused(await asAdmin('PATCH', '/api/apps/mine', { name }), `rename to ${JSON.stringify(name)}`, 400);
      assertRefused(await asAdmin('POST', '/api/tokens', { name: 'x', apps: [name] }), `scope ${JSON.stringify(name)}`);
    }
    for (const hostname of ['..', 'a/b.example', 'a\u0000.example', `${'x'.repeat(300)}.example`]) {
      assertRefused(
        await asAdmin('POST', '/api/apps/mine/domains', { hostname }),
        `domain ${hostname.slice(0, 20)}`,
        400,
      );
    }
    for (const type of ['..', 'a/b', 'a\u0000', 'x'.repeat(40)]) {
      const res = await asAdmin('PATCH', '/api/apps/mine/formation', { updates: [{ type, quantity: 1 }] });
      assertRefused(res, `process type ${type.slice(0, 20)}`, 400);
    }
    for (const name of ['..', 'a/b', 'a\u0000', 'x'.repeat(64)]) {
      const res = await as(nodeToken)('POST', '/api/nodes/register', {
        name,
        address: '127.0.0.1',
        memory: 64,
        cpus: 100,
      });
      assertRefused(res, `node name ${name.slice(0, 20)}`, 400);
    }
    assertRefused(await asAdmin('POST', '/api/tokens', { name: 'nul\u0000' }), 'token name with NUL', 400);

    // every path parameter, raw: never a 500, always the api's error body
    const hostile = ['..', '%2e%2e', '%2F', 'a%2Fb', '%00', 'a%00b', 'x'.repeat(5000), '%ff', '%C0%AE', '%', '%zz'];
    for (const [path, operations] of Object.entries(doc.paths)) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
      for (const method of Object.keys(operations)) {
        if (method === 'delete' && path === '/api/apps/{app}') continue; // would delete `mine` when valid
        for (const param of params) {
          for (const value of hostile) {
            const at = path.replace(/\{(\w+)\}/g, (_, p: string) => (p === param ? value : (good[p] ?? 'x')));
            const res = await asAdmin(method.toUpperCase(), at, ['get', 'delete'].includes(method) ? undefined : {});
            assertRefused(res, `${method} ${at.slice(0, 80)}`);
          }
        }
      }
    }
    assert.equal((await asAdmin('GET', '/api/apps/mine')).status, 200, 'mine is still there');
  });

  // last: it leaves 127.0.0.1 with a minute of refused failures
  it('floods of bad tokens from the agent’s own address never refuse a valid token; the node stays up', async () => {
    const bad = [
      `Bearer paas_${'x'.repeat(40)}`,
      'Bearer wrong',
      `Bearer ${admin}x`,
      `Bearer ${admin.slice(0, -1)}Z`,
      'Basic dXNlcjpwYXNz',
      'Bearer',
    ];
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const res = await send(api, 'GET', '/api/apps', { authorization: bad[i % bad.length] ?? '' });
      statuses.add(res.status);
    }
    assert.ok(statuses.has(429), [...statuses].join(' '));
    const refused = await send(api, 'GET', '/api/apps', { token: `paas_${'y'.repeat(40)}` });
    assertRefused(refused, 'a bad token after the flood', 429);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    const git = await send(api, 'GET', '/git/victim.git/info/refs?service=git-upload-pack', {
      authorization: `Basic ${Buffer.from(`git:paas_${'q'.repeat(40)}`).toString('base64')}`,
    });
    assert.equal(git.status, 429, 'the git receiver counts the same failures');

    // the flood goes on while valid tokens (admin, app, node, and git with a token) work
    let flooding = true;
    const flood = (async () => {
      while (flooding) await send(api, 'GET', '/api/apps', { token: `paas_${'z'.repeat(40)}` }).catch(() => undefined);
    })();
    try {
      const made = await asAdmin('POST', '/api/tokens', { name: 'mine-ci', apps: ['mine'] });
      assert.equal(made.status, 201, made.text);
      assert.equal((await as(made.body.token)('GET', '/api/apps/mine')).status, 200);
      const [{ name, lastHeartbeatAt }] = (await asAdmin('GET', '/api/nodes')).body as [
        { name: string; lastHeartbeatAt: string },
      ];
      assert.equal((await as(nodeToken)('POST', `/api/nodes/${name}/heartbeat`, { instances: [] })).status, 200);
      const ls = await gitAsync(
        gitEnv(roots.root),
        roots.root,
        'ls-remote',
        `${api.replace('http://', `http://git:${admin}@`)}/git/victim.git`,
      );
      assert.equal(ls.status, 0, ls.output);
      // the agent's own heartbeats keep landing: its node is up and heard from after the flood began
      await waitFor('a heartbeat of the agent during the flood', 30_000, async () => {
        const [nodeNow] = (await asAdmin('GET', '/api/nodes')).body as { state: string; lastHeartbeatAt: string }[];
        return nodeNow?.state === 'up' && Date.parse(nodeNow.lastHeartbeatAt) > Date.parse(lastHeartbeatAt);
      });
      assert.match(up.output, /agent\b/);
      assert.doesNotMatch(up.output, /heartbeat[^\n]*429/, 'the agent never got a 429');
    } finally {
      flooding = false;
      await flood;
    }
  });
});
