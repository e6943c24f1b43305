/**
 * HTTPS in one Router in this process, with real TLS clients (node:tls, trusting a test CA)
 * in front of real node:http backends: which certificate each client hello gets, forwarded
 * headers, websockets over TLS, redirects, HSTS and ACME HTTP-01 answers. The certificate
 * table's way through Redis and the primary to every worker is e2e/proxy/tls.spec.ts's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, type Socket, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import type { TableCert } from '@paas/platform/certs';
import type { AppRoute, HttpsSettings } from '@paas/platform/routes';
import { type KeyPair, type PlatformCa, ensurePlatformCa, issueLeaf, seal } from '@paas/platform/tls';
import { openCerts } from './certificates';
import type { OpenedCert } from './messages';
import { Router, type RouterOptions } from './router';

const DOMAIN = 'apps.test';
const routers: Router[] = [];
const servers: Server[] = [];
/** Upgraded sockets on both ends, which no server's closeAllConnections() knows. */
const sockets = new Set<Socket>();
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(0)));
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

let dir: string;
let ca: PlatformCa;
let wildcardDefault: KeyPair;
const certs: Record<string, OpenedCert> = {};
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paas-router-tls-'));
  ca = await ensurePlatformCa(join(dir, 'ca'));
  wildcardDefault = await issueLeaf(ca, { commonName: 'default', sans: [`*.${DOMAIN}`] });
  const make = async (app: string, id: string, domains: string[]): Promise<void> => {
    const leaf = await issueLeaf(ca, { commonName: id, sans: domains });
    certs[id] = { app, id, domains, cert: leaf.cert, key: leaf.key, notAfter: '2030-01-01T00:00:00.000Z' };
  };
  await make('shop', 'shop-exact', ['shop.example.com']);
  await make('shop', 'shop-wild', ['*.wild.example.com']);
  // A tenant's certificate that also names hosts the route table gives to other apps.
  await make('evil', 'evil', ['evil.example.com', 'blog.example.com', 'shop.example.com']);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A backend answering with the headers it got, as JSON; websocket upgrades echo. */
async function backend(): Promise<{ address: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.setHeader('strict-transport-security', 'max-age=1');
    res.end(JSON.stringify(req.headers));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    seen.push(req.headers);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Strict-Transport-Security: max-age=1\r\n\r\n',
    );
    socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
    socket.on('end', () => socket.end());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function route(app: string, hosts: string[], address: string, https?: HttpsSettings): AppRoute {
  return { app, hosts, backends: [{ id: 'web.1', address }], check: { type: 'tcp' }, ...(https ? { https } : {}) };
}

interface Started {
  readonly router: Router;
  readonly port: number;
  readonly tlsPort: number;
}

async function start(
  routes: AppRoute[],
  served: OpenedCert[],
  options: Partial<RouterOptions> & { defaultPair?: KeyPair | null } = {},
): Promise<Started> {
  const { defaultPair = wildcardDefault, ...rest } = options;
  const router = new Router({
    domain: DOMAIN,
    backendTimeoutMs: 10_000,
    cooldownMs: 60_000,
    accessLog: null,
    warn: () => undefined,
    tls: { defaultPair },
    ...rest,
  });
  routers.push(router);
  router.handle({ type: 'routes', version: 1, routes, down: [] });
  router.handle({ type: 'certs', version: 1, certs: served });
  const { port } = await router.listen({ host: '127.0.0.1', port: 0 });
  const { port: tlsPort } = await router.listenTls({ host: '127.0.0.1', port: 0 });
  return { router, port, tlsPort };
}

/** What a client hello for `servername` (none: no SNI) gets: the certificate's names, or the handshake error. */
function hello(
  port: number,
  servername: string | undefined,
  extra: { maxVersion?: 'TLSv1.1' } = {},
): Promise<{ names: string; alpn: string | false; verified: boolean } | { error: string }> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port,
      ...(servername !== undefined ? { servername } : {}),
      ca: ca.cert,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...extra,
    });
    socket.once('secureConnect', () => {
      const names = socket.getPeerCertificate().subjectaltname ?? '';
      resolve({ names, alpn: socket.alpnProtocol ?? false, verified: socket.authorized });
      socket.destroy();
    });
    socket.once('error', (err: Error) => resolve({ error: err.message }));
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function collect(resolve: (answer: Answer) => void, reject: (err: Error) => void) {
  return (res: IncomingMessage): void => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    res.on('error', reject);
  };
}

function get(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false },
      collect(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

/** An HTTPS GET that verifies the router's certificate for `host` against the test CA. */
function getTls(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: host, ca: ca.cert, headers: { host, ...headers }, agent: false },
      collect(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

describe('router HTTPS: which certificate a client hello gets', () => {
  it('picks by exact name, then a one-label wildcard, over TLS 1.2+ with ALPN http/1.1', async () => {
    const b = await backend();
    const shop = route('shop', ['shop.example.com', 'a.wild.example.com', 'x.y.wild.example.com'], b.address);
    const { tlsPort } = await start([shop], [certs['shop-exact'], certs['shop-wild']] as OpenedCert[]);
    const exact = await hello(tlsPort, 'shop.example.com');
    assert.deepEqual(exact, { names: 'DNS:shop.example.com', alpn: 'http/1.1', verified: true });
    assert.deepEqual(await hello(tlsPort, 'A.Wild.Example.COM'), {
      names: 'DNS:*.wild.example.com',
      alpn: 'http/1.1',
      verified: true,
    });
    // Two labels below the wildcard's parent: the wildcard does not cover it (the default does not either).
    assert.deepEqual(await hello(tlsPort, 'x.y.wild.example.com'), {
      names: `DNS:*.${DOMAIN}`,
      alpn: 'http/1.1',
      verified: false,
    });
    const old = await hello(tlsPort, 'shop.example.com', { maxVersion: 'TLSv1.1' });
    assert.ok('error' in old, 'TLS 1.1 is refused');
    // And a real request through it, the chain verified for the name.
    const answer = await getTls(tlsPort, 'shop.example.com', '/x');
    assert.equal(answer.status, 200);
  });

  it('gives an unknown name and a client without SNI the default pair, never an app certificate', async () => {
    const b = await backend();
    const { tlsPort } = await start([route('shop', ['shop.example.com'], b.address)], [
      certs['shop-exact'],
    ] as OpenedCert[]);
    for (const name of ['nobody.example.net', 'shop.apps.test', undefined]) {
      const got = await hello(tlsPort, name);
      assert.ok('names' in got, `${name}: ${JSON.stringify(got)}`);
      assert.equal(got.names, `DNS:*.${DOMAIN}`, String(name));
    }
    // APP.<domain> under the operator's wildcard verifies as such.
    assert.equal((await getTls(tlsPort, 'shop.apps.test')).status, 200);
  });

  it('without a default pair fails the handshake for an unknown name and for no SNI', async () => {
    const b = await backend();
    const { tlsPort } = await start(
      [route('shop', ['shop.example.com'], b.address)],
      [certs['shop-exact']] as OpenedCert[],
      { defaultPair: null },
    );
    for (const name of ['nobody.example.net', 'shop.apps.test', undefined]) {
      const got = await hello(tlsPort, name);
      assert.ok('error' in got, `${String(name)} must fail, got ${JSON.stringify(got)}`);
    }
    assert.deepEqual(await hello(tlsPort, 'shop.example.com'), {
      names: 'DNS:shop.example.com',
      alpn: 'http/1.1',
      verified: true,
    });
  });

  it("never serves an app's certificate for a host the route table gives to another app", async () => {
    const b = await backend();
    const routes = [
      route('shop', ['shop.example.com'], b.address),
      route('blog', ['blog.example.com'], b.address),
      route('evil', ['evil.example.com'], b.address),
    ];
    const served = [certs['shop-exact'], certs['evil']] as OpenedCert[];
    const withDefault = await start(routes, served);
    assert.deepEqual(await hello(withDefault.tlsPort, 'evil.example.com'), {
      names: 'DNS:evil.example.com, DNS:blog.example.com, DNS:shop.example.com',
      alpn: 'http/1.1',
      verified: true,
    });
    assert.equal(
      ((await hello(withDefault.tlsPort, 'shop.example.com')) as { names: string }).names,
      'DNS:shop.example.com',
    );
    assert.equal(
      ((await hello(withDefault.tlsPort, 'blog.example.com')) as { names: string }).names,
      `DNS:*.${DOMAIN}`,
    );
    const bare = await start(routes, served, { defaultPair: null });
    assert.ok('error' in (await hello(bare.tlsPort, 'blog.example.com')), 'blog has no certificate of its own');
  });

  it('serves a certificate added or removed by a later table at once', async () => {
    const b = await backend();
    const { router, tlsPort } = await start([route('shop', ['shop.example.com'], b.address)], [], {
      defaultPair: null,
    });
    assert.ok('error' in (await hello(tlsPort, 'shop.example.com')));
    router.handle({ type: 'certs', version: 2, certs: [certs['shop-exact'] as OpenedCert] });
    assert.equal(((await hello(tlsPort, 'shop.example.com')) as { names: string }).names, 'DNS:shop.example.com');
    router.handle({ type: 'certs', version: 3, certs: [] });
    assert.ok('error' in (await hello(tlsPort, 'shop.example.com')));
  });
});

describe('router HTTPS: requests', () => {
  it('sets X-Forwarded-Proto by the listener, whatever the client sent', async () => {
    const b = await backend();
    const { port, tlsPort } = await start([route('shop', ['shop.example.com'], b.address)], [
      certs['shop-exact'],
    ] as OpenedCert[]);
    const spoof = { 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' };
    const secure = JSON.parse((await getTls(tlsPort, 'shop.example.com', '/', { 'x-forwarded-proto': 'http' })).body);
    assert.equal(secure['x-forwarded-proto'], 'https');
    assert.equal(secure['x-forwarded-port'], String(tlsPort));
    const plain = JSON.parse((await get(port, 'shop.example.com', '/', spoof)).body);
    assert.equal(plain['x-forwarded-proto'], 'http');
    assert.equal(plain['x-forwarded-port'], String(port));
  });

  it('proxies a websocket over TLS', async () => {
    const b = await backend();
    const { tlsPort } = await start([route('shop', ['shop.example.com'], b.address)], [
      certs['shop-exact'],
    ] as OpenedCert[]);
    const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'shop.example.com', ca: ca.cert });
    sockets.add(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    socket.write(
      'GET /chat HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const head = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    assert.match(head, /^HTTP\/1\.1 101 /);
    socket.write('hello');
    const echoed = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(echoed, 'echo:hello');
    assert.equal(b.seen.at(-1)?.['x-forwarded-proto'], 'https');
    socket.end();
  });

  it('redirects plain HTTP of an app that asks for it (308, not the ACME path) and sends its HSTS over HTTPS', async () => {
    const b = await backend();
    const asked: string[] = [];
    const { port, tlsPort } = await start(
      [
        route('shop', ['shop.example.com'], b.address, { redirect: true, hstsMaxAge: 31_536_000 }),
        route('blog', ['blog.example.com'], b.address),
        route('calm', [], b.address, { redirect: false, hstsMaxAge: 60 }),
      ],
      [certs['shop-exact']] as OpenedCert[],
      { acmeChallenge: async (token) => (asked.push(token), token === 'tok' ? 'tok.thumb' : null) },
    );
    const moved = await get(port, 'shop.example.com:8080', '/a/b?c=1');
    assert.equal(moved.status, 308);
    assert.equal(moved.headers.location, `https://shop.example.com:${tlsPort}/a/b?c=1`);
    assert.equal(b.seen.length, 0, 'a redirected request never reaches the app');
    const challenge = await get(port, 'shop.example.com', '/.well-known/acme-challenge/tok');
    assert.equal(challenge.status, 200);
    assert.equal(challenge.body, 'tok.thumb');
    assert.equal((await get(port, 'blog.example.com')).status, 200, 'no redirect unless asked');
    assert.equal((await get(port, 'calm.apps.test')).status, 200);
    const secure = await getTls(tlsPort, 'shop.example.com');
    assert.equal(secure.status, 200);
    assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000', "the router's, not the app's");
    assert.equal((await getTls(tlsPort, 'calm.apps.test')).headers['strict-transport-security'], 'max-age=60');
    assert.equal((await getTls(tlsPort, 'blog.apps.test')).headers['strict-transport-security'], 'max-age=1');
    assert.equal(
      (await get(port, 'calm.apps.test')).headers['strict-transport-security'],
      'max-age=1',
      "the router adds its policy only over HTTPS (here the app's own passes)",
    );
  });

  it('answers an app in maintenance 503 over HTTPS with its HSTS, and over HTTP before any redirect, but not the ACME path', async () => {
    const b = await backend();
    const { port, tlsPort } = await start(
      [
        {
          ...route('shop', ['shop.example.com'], b.address, { redirect: true, hstsMaxAge: 600 }),
          maintenance: true,
        },
      ],
      [certs['shop-exact']] as OpenedCert[],
      { acmeChallenge: async (token) => (token === 'tok' ? 'tok.thumb' : null) },
    );
    const secure = await getTls(tlsPort, 'shop.example.com');
    assert.equal(secure.status, 503);
    assert.equal(secure.headers['strict-transport-security'], 'max-age=600');
    assert.match(secure.body, /shop is down for maintenance/);
    const plain = await get(port, 'shop.apps.test', '/a');
    assert.equal(plain.status, 503, 'not a 308 to a page that is down anyway');
    assert.equal(plain.headers.location, undefined);
    assert.equal(plain.headers['strict-transport-security'], undefined);
    const challenge = await get(port, 'shop.example.com', '/.well-known/acme-challenge/tok');
    assert.deepEqual([challenge.status, challenge.body], [200, 'tok.thumb']);
    assert.equal(b.seen.length, 0);
  });

  it('takes the websockets of an app that asks for the redirect over TLS only, with its HSTS', async () => {
    const b = await backend();
    const { port, tlsPort } = await start(
      [route('shop', ['shop.example.com'], b.address, { redirect: true, hstsMaxAge: 600 })],
      [certs['shop-exact']] as OpenedCert[],
    );
    const upgrade =
      'GET /chat?room=1 HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const head = (socket: Socket): Promise<string> =>
      new Promise((resolve, reject) => {
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.includes('\r\n\r\n')) resolve(got.slice(0, got.indexOf('\r\n\r\n')));
        });
        socket.once('error', reject);
      });

    const plainSocket = netConnect({ host: '127.0.0.1', port });
    sockets.add(plainSocket);
    const plainHead = head(plainSocket);
    plainSocket.write(upgrade);
    const moved = await plainHead;
    assert.match(moved, /^HTTP\/1\.1 308 /);
    assert.match(moved, new RegExp(`\r\nlocation: https://shop\\.example\\.com:${tlsPort}/chat\\?room=1\r\n`));
    assert.equal(b.seen.length, 0, 'no plain-text websocket reaches the app');

    const secure = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'shop.example.com', ca: ca.cert });
    sockets.add(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const secureHead = head(secure);
    secure.write(upgrade);
    const switched = await secureHead;
    assert.match(switched, /^HTTP\/1\.1 101 /);
    assert.match(switched, /\r\nstrict-transport-security: max-age=600(\r\n|$)/i, "the router's policy, not the app's");
    assert.doesNotMatch(switched, /max-age=1(\r\n|$)/);
    secure.end();
  });

  it('answers ACME HTTP-01 for any host before routing, and never looks up what is not a token', async () => {
    const asked: string[] = [];
    const { port } = await start([], [], {
      acmeChallenge: async (token) => {
        asked.push(token);
        if (token === 'broken') throw new Error('redis is down');
        return token === 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0' ? `${token}.key-thumbprint` : null;
      },
    });
    const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
    const ok = await get(port, 'www.nobody.example', `/.well-known/acme-challenge/${token}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'text/plain');
    assert.equal(ok.body, `${token}.key-thumbprint`);
    assert.equal((await get(port, 'x.example', '/.well-known/acme-challenge/unknown')).status, 404);
    assert.equal((await get(port, 'x.example', '/.well-known/acme-challenge/broken')).status, 503);
    for (const bad of ['../x', '..%2Fx', '*', '', 'a/b', 'a?b=../c']) {
      assert.equal((await get(port, 'x.example', `/.well-known/acme-challenge/${bad}`)).status, 404, bad);
    }
    assert.deepEqual(asked, [token, 'unknown', 'broken', 'a'], 'only tokens are looked up');
  });
});

describe('router HTTPS: opening the table', () => {
  it('skips and reports a key sealed under another key, bound to another id, or not the certificate’s', () => {
    const sealing = randomBytes(32);
    const other = randomBytes(32);
    const exact = certs['shop-exact'] as OpenedCert;
    const wild = certs['shop-wild'] as OpenedCert;
    const entry = (c: OpenedCert, key: string): TableCert => ({ ...c, key });
    const table = new Map<string, TableCert[]>([
      ['shop', [entry(exact, seal(sealing, exact.key, exact.id)), entry(wild, seal(other, wild.key, wild.id))]],
      [
        'evil',
        [
          entry({ ...exact, id: 'moved' }, seal(sealing, exact.key, exact.id)),
          entry({ ...exact, id: 'mismatch' }, seal(sealing, wild.key, 'mismatch')),
        ],
      ],
    ]);
    const { certs: opened, problems } = openCerts(table, sealing);
    assert.deepEqual(
      opened.map((c) => [c.app, c.id]),
      [['shop', 'shop-exact']],
    );
    assert.equal(opened[0]?.key, exact.key);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0] ?? '', /certificate "shop-wild" of app shop: skipped: .*sealed under another key/);
    assert.match(problems[1] ?? '', /certificate "moved" of app evil: skipped: .*does not open/);
    assert.match(problems[2] ?? '', /certificate "mismatch" of app evil: skipped: its key is not the certificate/);
  });
});
