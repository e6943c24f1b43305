/**
 * The Router in this process in front of real node:http backends on 127.0.0.1: what one
 * worker does with each request. The whole router (Redis, workers, signals) is e2e/proxy's.
 */
import assert from 'node:assert/strict';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http';
import { type AddressInfo, type Socket, connect, createServer as createTcpServer } from 'node:net';
import { after, afterEach, describe, it } from 'node:test';
import type { AppRoute } from '@paas/platform/routes';
import { AccessLog, type AccessEntry } from './access-log';
import { acceptsHtml } from './pages';
import { MAINTENANCE_RETRY_AFTER_S, Router, type RouterOptions } from './router';
import { WakeRequester } from './wake';

const servers: Server[] = [];
const routers: Router[] = [];
/** Raw client sockets a test opened (destroyed after it, whatever happened). */
const clients: Socket[] = [];
afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await Promise.all(routers.splice(0).map((r) => r.close(0)));
});
/** Every connection a backend accepted: an upgraded one is no longer the HTTP server's to close. */
const accepted = new Set<Socket>();
after(async () => {
  for (const s of servers) s.closeAllConnections();
  // a websocket the router proxied to a backend is left out by closeAllConnections, and close()
  // waits for it: now and then one outlived its test and the file never exited
  for (const socket of accepted) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Backend {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  readonly requests: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders; socket: Socket }>;
  readonly server: Server;
}

type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;

const hello: Handler = (req, res, backend) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`${backend.name} ${req.method} ${req.url}`);
};

async function backend(name: string, handler: Handler = hello): Promise<Backend> {
  const requests: Backend['requests'] = [];
  const server = createServer();
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const b: Backend = { name, port, address: `127.0.0.1:${port}`, requests, server };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers, socket: req.socket });
    handler(req, res, b);
  });
  return b;
}

async function deadAddress(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return `127.0.0.1:${port}`;
}

function route(app: string, addresses: string[], hosts: string[] = []): AppRoute {
  return {
    app,
    hosts,
    backends: addresses.map((address, i) => ({ id: `web.${i + 1}`, address })),
    check: { type: 'tcp' },
  };
}

async function router(
  routes: AppRoute[],
  options: Partial<RouterOptions> = {},
): Promise<{ router: Router; port: number; log: AccessEntry[]; refused: string[] }> {
  const log: AccessEntry[] = [];
  const refused: string[] = [];
  const accessLog = new AccessLog((chunk) => {
    for (const line of chunk.split('\n')) if (line) log.push(JSON.parse(line) as AccessEntry);
  });
  const r = new Router({
    domain: 'localhost',
    backendTimeoutMs: 10_000,
    cooldownMs: 60_000,
    accessLog,
    onRefused: (address) => refused.push(address),
    warn: () => undefined,
    ...options,
  });
  routers.push(r);
  r.handle({ type: 'routes', version: 1, routes, down: [] });
  const { port } = await r.listen({ host: '127.0.0.1', port: 0 });
  return { router: r, port, log, refused };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(
  port: number,
  options: {
    host?: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: Agent;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { host: options.host ?? 'shop.localhost', ...options.headers },
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Waits until `check` holds (e.g. the requests have reached the router). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(check(), what);
}

/** Waits for the access log to have `n` lines (it is written once per event-loop turn). */
async function lines(log: AccessEntry[], n: number): Promise<AccessEntry[]> {
  for (let i = 0; i < 200 && log.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(log.length, n, 'access log lines');
  return log;
}

describe('router: requests', () => {
  it('passes the request on with the original Host, forwarded headers and a request id', async () => {
    const b = await backend('b1');
    const { port, log } = await router([route('shop', [b.address], ['shop.example.com'])]);
    const answer = await send(port, {
      host: 'Shop.Example.com:8080',
      path: '/cart?id=7',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil' },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'b1 GET /cart?id=7');
    const seen = b.requests[0]?.headers ?? {};
    assert.equal(seen.host, 'Shop.Example.com:8080');
    assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http', 'the router is the edge: it says what the client used');
    assert.equal(seen['x-forwarded-host'], 'Shop.Example.com:8080');
    assert.equal(seen['x-forwarded-port'], String(port));
    assert.match(String(seen['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(answer.headers['x-request-id'], seen['x-request-id']);

    const [entry] = await lines(log, 1);
    assert.ok(entry);
    assert.equal(entry.requestId, seen['x-request-id']);
    assert.equal(entry.app, 'shop');
    assert.equal(entry.host, 'Shop.Example.com:8080');
    assert.equal(entry.method, 'GET');
    assert.equal(entry.path, '/cart?id=7');
    assert.equal(entry.status, 200);
    assert.equal(entry.backend, b.address);
    assert.equal(entry.bytes, Buffer.byteLength('b1 GET /cart?id=7'));
    assert.equal(typeof entry.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  });

  it('keeps a sane incoming request id and replaces a bad one', async () => {
    const b = await backend('b1');
    const { port } = await router([route('shop', [b.address])]);
    const kept = await send(port, { headers: { 'x-request-id': 'edge-7f3a:01' } });
    assert.equal(kept.headers['x-request-id'], 'edge-7f3a:01');
    assert.equal(b.requests[0]?.headers['x-request-id'], 'edge-7f3a:01');
    const replaced = await send(port, { headers: { 'x-request-id': 'has spaces <script>' } });
    assert.notEqual(replaced.headers['x-request-id'], 'has spaces <script>');
    assert.equal(b.requests[1]?.headers['x-request-id'], replaced.headers['x-request-id']);
  });

  it("reuses connections to the backend and keeps the client's alive as the client wants", async () => {
    const b = await backend('b1');
    const { port } = await router([route('shop', [b.address])]);
    const client = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const answer = await send(port, { agent: client, headers: { connection: 'keep-alive' } });
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['connection'], 'keep-alive');
        assert.equal(answer.headers['keep-alive'], undefined, "the backend's Keep-Alive is hop-by-hop");
      }
      assert.equal(new Set(b.requests.map((r) => r.socket)).size, 1, 'one backend connection for five requests');
      assert.equal(b.requests[0]?.headers.connection, 'keep-alive');
      const closing = await send(port, { agent: client, headers: { connection: 'close' } });
      assert.equal(closing.headers['connection'], 'close');
      assert.equal(b.requests[5]?.headers.connection, 'keep-alive', "the client's close is not the backend's");
    } finally {
      client.destroy();
    }
  });

  it('answers 404 for unknown hosts, 400 for bad ones and 503 for an app without backends', async () => {
    const { port, log } = await router([route('empty', [])]);
    const unknown = await send(port, { host: 'nobody.localhost' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /No app answers at nobody\.localhost/);
    assert.match(unknown.body, new RegExp(String(unknown.headers['x-request-id'])));
    assert.equal(unknown.headers['content-type'], 'text/html; charset=utf-8');
    const bad = await send(port, { host: 'not a host' });
    assert.equal(bad.status, 400);
    const none = await send(port, { host: 'empty.localhost' });
    assert.equal(none.status, 503);
    assert.equal(none.headers['retry-after'], '5');
    assert.match(none.body, /empty has no instance running/);
    const head = await send(port, { host: 'empty.localhost', method: 'HEAD' });
    assert.equal(head.status, 503);
    assert.equal(head.body, '');
    const entries = await lines(log, 4);
    assert.deepEqual(
      entries.map((e) => [e.status, e.app, e.backend]),
      [
        [404, null, null],
        [400, null, null],
        [503, 'empty', null],
        [503, 'empty', null],
      ],
    );
  });

  it('answers every request of an app in maintenance 503 with a page, never asking its backends, until it is off', async () => {
    const b = await backend('b1');
    const serving = route('shop', [b.address], ['shop.example.com']);
    const { router: r, port, log } = await router([{ ...serving, maintenance: true }]);
    const browser = await send(port, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(browser.status, 503);
    assert.equal(browser.headers['retry-after'], String(MAINTENANCE_RETRY_AFTER_S));
    assert.equal(browser.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(browser.headers['cache-control'], 'no-store');
    assert.equal(browser.headers['vary'], 'Accept');
    assert.match(browser.body, /<title>Down for maintenance<\/title>/);
    assert.match(browser.body, /shop is down for maintenance/);
    assert.ok(browser.body.includes(String(browser.headers['x-request-id'])));
    const script = await send(port, {
      host: 'shop.example.com',
      path: '/api',
      headers: { accept: 'application/json' },
    });
    assert.equal(script.status, 503);
    assert.equal(script.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(
      script.body,
      `shop is down for maintenance. Please try again later.\nrequest id ${script.headers['x-request-id']}\n`,
    );
    const post = await send(port, { method: 'POST', body: 'order=1', headers: { accept: '*/*' } });
    assert.deepEqual([post.status, post.headers['content-type']], [503, 'text/html; charset=utf-8']);
    const head = await send(port, { method: 'HEAD' });
    assert.deepEqual([head.status, head.body], [503, '']);
    assert.equal((await upgrade(port, 'shop.localhost')).status, 503, 'websockets too');
    assert.equal(b.requests.length, 0, 'the backend was never asked');
    const entries = await lines(log, 5);
    assert.deepEqual(
      entries.map((e) => [e.status, e.app, e.backend]),
      Array.from({ length: 5 }, () => [503, 'shop', null]),
    );

    r.handle({ type: 'routes', version: 2, routes: [serving], down: [] });
    const back = await send(port, { host: 'shop.example.com' });
    assert.deepEqual([back.status, back.body], [200, 'b1 GET /']);
  });

  it('tells whether a client takes HTML by its Accept header', () => {
    for (const accept of [undefined, '', '*/*', 'text/html', 'text/*;q=0.5', 'application/json, text/html;q=0.1'])
      assert.equal(acceptsHtml(accept), true, String(accept));
    for (const accept of ['application/json', 'text/plain', 'text/html;q=0', 'image/png, */*;q=0'])
      assert.equal(acceptsHtml(accept), false, accept);
  });

  it('sends each request to the backend with the fewest in flight, else round-robin', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = await backend('slow', (req, res, b) => {
      if (req.url === '/hold') void held.then(() => hello(req, res, b));
      else hello(req, res, b);
    });
    const fast = await backend('fast');
    const { port } = await router([route('shop', [slow.address, fast.address])]);
    const pending = send(port, { path: '/hold' }); // round-robin starts with slow, which holds it
    while (slow.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await send(port)).body);
    assert.deepEqual(bodies, Array(4).fill('fast GET /'), 'slow has one in flight, fast none');
    release();
    assert.equal((await pending).body, 'slow GET /hold');
    const after = [(await send(port)).body, (await send(port)).body];
    assert.deepEqual(after.sort(), ['fast GET /', 'slow GET /'], 'both idle again: they alternate');
  });
});

describe('router: failures', () => {
  it('retries idempotent requests on another backend when one refuses, and cools it down', async () => {
    const dead = await deadAddress();
    const live = await backend('live');
    const { port, log, refused } = await router([route('shop', [dead, live.address])]);
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
      const answer = await send(port, { method });
      assert.equal(answer.status, 200, method);
    }
    assert.deepEqual(refused, [dead], 'refused once, then skipped while it cools down');
    const entries = await lines(log, 4);
    assert.equal(entries[0]?.attempts, 2);
    assert.equal(entries[0]?.backend, live.address);
    assert.equal(entries[1]?.attempts, undefined);
  });

  it('does not retry a request with a body, and says 502', async () => {
    const dead = await deadAddress();
    const live = await backend('live');
    const { port, log } = await router([route('shop', [dead, live.address])]);
    const answer = await send(port, { method: 'POST', body: 'order=1' });
    assert.equal(answer.status, 502);
    assert.match(answer.body, /shop could not be reached or failed to answer \(ECONNREFUSED\)/);
    assert.equal(live.requests.length, 0);
    const [entry] = await lines(log, 1);
    assert.equal(entry?.error, 'ECONNREFUSED');
    assert.equal(entry?.backend, dead);
  });

  it('says 502 when every backend refuses, after waiting for a newer route table in vain', async () => {
    const { port, log } = await router([route('shop', [await deadAddress(), await deadAddress()])], {
      refusedWaitMs: 50,
    });
    assert.equal((await send(port)).status, 502);
    const [entry] = await lines(log, 1);
    assert.equal(entry?.attempts, 2);
    assert.equal(entry?.error, 'ECONNREFUSED');
  });

  it('a request whose only backend refused (it stopped before this router learned) waits for the next table', async () => {
    const gone = await deadAddress();
    const next = await backend('successor');
    const { router: r, port, log } = await router([route('shop', [gone])], { refusedWaitMs: 10_000 });
    const answer = send(port);
    // the table that drops the stopped instance comes a moment later
    await new Promise((resolve) => setTimeout(resolve, 100));
    r.handle({ type: 'routes', version: 2, routes: [route('shop', [gone, next.address])], down: [] });
    assert.equal((await answer).status, 200);
    assert.equal(next.requests.length, 1);
    const [entry] = await lines(log, 1);
    assert.equal(entry?.backend, next.address);
    // a POST never waits nor goes elsewhere: it may have been seen
    r.handle({ type: 'routes', version: 3, routes: [route('shop', [gone])], down: [] });
    assert.equal((await send(port, { method: 'POST', body: 'x=1' })).status, 502);
  });

  it('says 504 when the backend stays silent', async () => {
    const silent = await backend('silent', () => undefined);
    const { port, log } = await router([route('shop', [silent.address])], { backendTimeoutMs: 200 });
    const answer = await send(port);
    assert.equal(answer.status, 504);
    assert.match(answer.body, /did not answer within 200 ms/);
    const [entry] = await lines(log, 1);
    assert.equal(entry?.error, 'timeout');
  });

  it('cuts the client off when the backend dies mid-body, instead of leaving it hanging', async () => {
    const dying = await backend('dying', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('only part of it');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const { port, log } = await router([route('shop', [dying.address])]);
    await assert.rejects(
      send(port),
      (err: NodeJS.ErrnoException) =>
        ['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err.code ?? err.message) || /aborted/.test(err.message),
    );
    const [entry] = await lines(log, 1);
    assert.equal(entry?.status, 200);
    assert.ok(entry?.error, 'the failure is in the log');
  });

  it('abandons the backend request when the client goes away', async () => {
    let backendClosed!: () => void;
    const closed = new Promise<void>((resolve) => (backendClosed = resolve));
    const slow = await backend('slow', (_req, res) => res.on('close', () => backendClosed()));
    const { port, log } = await router([route('shop', [slow.address])]);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: shop.localhost\r\n\r\n');
    while (slow.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    await closed;
    const [entry] = await lines(log, 1);
    assert.equal(entry?.status, 499);
  });
});

describe('router: websockets and malformed input', () => {
  it('proxies an upgrade both ways with forwarded headers', async () => {
    const b = await backend('ws');
    let upgradeHeaders: IncomingHttpHeaders = {};
    b.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      upgradeHeaders = req.headers;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
      socket.on('end', () => socket.end());
    });
    const { port, log } = await router([route('shop', [b.address])]);
    const { socket, status } = await upgrade(port, 'shop.localhost');
    assert.equal(status, 101);
    socket.write('hello');
    assert.equal(await firstData(socket), 'echo:hello');
    assert.equal(upgradeHeaders['x-forwarded-for'], '127.0.0.1');
    assert.equal(upgradeHeaders.upgrade, 'websocket');
    socket.end();
    const [entry] = await lines(log, 1);
    assert.equal(entry?.status, 101);
    assert.equal(entry?.backend, b.address);
  });

  it('refuses upgrades to unknown hosts, dead backends and non-websocket protocols', async () => {
    const { port } = await router([route('shop', [await deadAddress()])]);
    assert.equal((await upgrade(port, 'nobody.localhost')).status, 404);
    assert.equal((await upgrade(port, 'shop.localhost')).status, 502);
    assert.equal((await upgrade(port, 'shop.localhost', 'h2c')).status, 400);
  });

  it('answers 431 to huge headers and 400 to garbage, and keeps serving', async () => {
    const b = await backend('b1');
    const { port } = await router([route('shop', [b.address])]);
    const huge = await rawExchange(
      port,
      `GET / HTTP/1.1\r\nHost: shop.localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const garbage = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    const noHost = await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(noHost, /^HTTP\/1\.1 400 /);
    assert.equal((await send(port)).status, 200);
  });
});

describe('router: ambiguous Host (RFC 9112 §3.2)', () => {
  it('answers 400 to two Host headers and routes absolute-form by its authority', async () => {
    const [shop, blog] = [await backend('shop'), await backend('blog')];
    const { port, log } = await router([route('shop', [shop.address]), route('blog', [blog.address])]);
    const two = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: blog.localhost\r\nHost: shop.localhost\r\n\r\n');
    assert.match(two, /^HTTP\/1\.1 400 /);
    assert.match(two, /more than one Host header/);
    const absolute = await rawExchange(
      port,
      'GET http://shop.localhost/x?y HTTP/1.1\r\nHost: blog.localhost\r\nConnection: close\r\n\r\n',
      true,
    );
    assert.match(absolute, /^HTTP\/1\.1 200 [^]*\r\n\r\nshop GET \/x\?y$/);
    assert.equal(shop.requests[0]?.headers.host, 'shop.localhost');
    assert.equal(blog.requests.length, 0);
    const userinfo = await rawExchange(
      port,
      'GET http://blog@shop.localhost/ HTTP/1.1\r\nHost: shop.localhost\r\n\r\n',
    );
    assert.match(userinfo, /^HTTP\/1\.1 400 [^]*userinfo/);
    const entries = await lines(log, 3);
    assert.deepEqual(
      entries.map((e) => [e.status, e.app, e.host, e.path]),
      [
        [400, null, 'blog.localhost', '/'],
        [200, 'shop', 'shop.localhost', '/x?y'],
        [400, null, 'shop.localhost', 'http://blog@shop.localhost/'],
      ],
    );
  });

  it('does the same for websocket upgrades', async () => {
    const b = await backend('ws');
    const urls: string[] = [];
    b.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      urls.push(`${req.headers.host} ${req.url}`);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const { port } = await router([route('shop', [b.address])]);
    const head = 'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    const two = await rawExchange(port, `GET / HTTP/1.1\r\nHost: shop.localhost\r\nHost: x.localhost\r\n${head}`);
    assert.match(two, /^HTTP\/1\.1 400 [^]*more than one Host header/);
    const absolute = await rawExchange(port, `GET http://shop.localhost/ws HTTP/1.1\r\nHost: x.localhost\r\n${head}`);
    assert.match(absolute, /^HTTP\/1\.1 101 /);
    assert.deepEqual(urls, ['shop.localhost /ws']);
  });
});

describe('router: shutdown', () => {
  it('finishes requests in flight, closing their connections, and refuses new ones', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const b = await backend('b1', (req, res, backend) => void held.then(() => hello(req, res, backend)));
    const { router: r, port } = await router([route('shop', [b.address])]);
    const client = new Agent({ keepAlive: true });
    const pending = send(port, { agent: client });
    while (b.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = r.close(10_000);
    await assert.rejects(send(port), /ECONNREFUSED/);
    release();
    const answer = await pending;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.connection, 'close');
    await closed;
    client.destroy();
  });
});

function upgrade(port: number, host: string, protocol = 'websocket'): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      headers: {
        host,
        connection: 'Upgrade',
        upgrade: protocol,
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (res: IncomingMessage, socket: Socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, socket: res.socket });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A websocket upgrade on a raw socket, which the test then half-closes or keeps open as it
 * likes (`allowHalfOpen`: it does not close its side when the router closes its own).
 */
function rawUpgrade(port: number, host: string, allowHalfOpen = false): { socket: Socket; received: () => string } {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  clients.push(socket);
  let got = '';
  socket.on('data', (data: Buffer) => (got += data.toString()));
  socket.on('error', () => undefined);
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  return { socket, received: () => got };
}

function firstData(socket: Socket): Promise<string> {
  return new Promise((resolve) => socket.once('data', (data: Buffer) => resolve(data.toString())));
}

/** Writes raw bytes and collects everything until the router closes the connection. */
/**
 * Sends raw bytes, half-closing unless `open` is set: a request that goes on to a backend
 * must keep the client's side open (Node drops it otherwise) and say Connection: close.
 */
function rawExchange(port: number, text: string, open = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
    if (open) socket.write(text);
    else socket.end(text);
  });
}

describe('router: sleeping apps', () => {
  const sleeping = (app: string, more: Partial<AppRoute> = {}): AppRoute => ({
    ...route(app, []),
    sleeping: true,
    ...more,
  });

  it('holds requests, asks for one wake, and sends them on once a backend appears', async () => {
    const b = await backend('b1');
    const asked: string[] = [];
    const firstBytes: string[] = [];
    const { router: r, port } = await router([sleeping('nap')], {
      askWake: (app) => asked.push(app),
      onWokeFirstByte: (app, ms) => firstBytes.push(`${app} ${ms >= 0}`),
    });
    const answers = [1, 2, 3].map((n) =>
      send(port, { host: 'nap.localhost', path: `/${n}`, method: n === 3 ? 'POST' : 'GET', body: n === 3 ? 'hi' : '' }),
    );
    await until(() => r.counters.app('nap').inflight === 3, 'three requests held');
    assert.deepEqual(asked, ['nap'], 'one wake asked for three requests');
    assert.equal(b.requests.length, 0);
    r.handle({ type: 'routes', version: 2, routes: [route('nap', [b.address])], down: [] });
    const got = await Promise.all(answers);
    assert.deepEqual(
      got.map((a) => [a.status, a.body]),
      [
        [200, 'b1 GET /1'],
        [200, 'b1 GET /2'],
        [200, 'b1 POST /3'],
      ],
    );
    const c = r.counters.app('nap');
    assert.equal(
      c.wakeDurations.reduce((a, n) => a + n, 0),
      3,
      'each held request counted in the wake histogram',
    );
    assert.ok(c.lastRequestAt > 0);
    assert.deepEqual(firstBytes, ['nap true'], 'the first byte of the first held request, once');
    // awake: nothing held, nothing asked
    assert.equal((await send(port, { host: 'nap.localhost' })).status, 200);
    assert.deepEqual(asked, ['nap']);
  });

  it('answers 503 with Retry-After beyond the queue, and to a request that waited too long', async () => {
    const asked: string[] = [];
    const { router: r, port } = await router([sleeping('nap')], {
      askWake: (app) => asked.push(app),
      wake: { maxHeld: 2, maxWaitMs: 200 },
    });
    const held = [send(port, { host: 'nap.localhost' }), send(port, { host: 'nap.localhost' })];
    await until(() => r.counters.app('nap').inflight === 2, 'two requests held');
    const third = await send(port, { host: 'nap.localhost' });
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '5');
    assert.match(third.body, /nap is waking up and 2 requests already wait for it/);
    const late = await Promise.all(held);
    assert.deepEqual(
      late.map((a) => [a.status, a.headers['retry-after']]),
      [
        [503, '5'],
        [503, '5'],
      ],
    );
    assert.match(late[0]?.body ?? '', /nap did not wake within 200 ms/);
    assert.equal(r.counters.app('nap').inflight, 0);
    // the next request is a new wait, and asks again
    const again = send(port, { host: 'nap.localhost' });
    await until(() => asked.length === 2, 'asked again');
    assert.equal((await again).status, 503);
  });

  it('answers held requests 503 after a failed wake, and every request until the back-off ends', async () => {
    const asked: string[] = [];
    const { router: r, port } = await router([sleeping('nap')], { askWake: (app) => asked.push(app) });
    const held = send(port, { host: 'nap.localhost' });
    await until(() => r.counters.app('nap').inflight === 1, 'held');
    const retryAt = Date.now() + 30_000;
    r.handle({ type: 'routes', version: 2, routes: [sleeping('nap', { wakeRetryAt: retryAt })], down: [] });
    const failed = await held;
    assert.equal(failed.status, 503);
    assert.match(failed.body, /nap failed to wake \(its log says why\); it is tried again in 30 s/);
    assert.ok(Number(failed.headers['retry-after']) >= 29, String(failed.headers['retry-after']));
    const next = await send(port, { host: 'nap.localhost' });
    assert.equal(next.status, 503);
    assert.deepEqual(asked, ['nap'], 'no wake asked during the back-off');
  });

  it('asks again while requests are held (an ask may be lost), and stops once they go on', async () => {
    const b = await backend('b1');
    const asked: string[] = [];
    const { router: r, port } = await router([sleeping('nap')], {
      askWake: (app) => asked.push(app),
      wake: { maxHeld: 10, maxWaitMs: 30_000, askEveryMs: 10 },
    });
    const answer = send(port, { host: 'nap.localhost' });
    await until(() => asked.length >= 3, 'asked again while held');
    r.handle({ type: 'routes', version: 2, routes: [route('nap', [b.address])], down: [] });
    assert.equal((await answer).status, 200);
    const after = asked.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(asked.length, after, 'no ask once nothing is held');
  });

  it('asks for the wake even when it holds nothing (a queue of 0), and answers 503', async () => {
    const asked: string[] = [];
    const { port } = await router([sleeping('nap')], {
      askWake: (app) => asked.push(app),
      wake: { maxHeld: 0, maxWaitMs: 1000 },
    });
    const answer = await send(port, { host: 'nap.localhost' });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '5');
    assert.deepEqual(asked, ['nap']);
  });

  it('holds no more than its total across apps: 503 beyond, and each app still asks', async () => {
    const asked: string[] = [];
    const { router: r, port } = await router([sleeping('nap'), sleeping('doze')], {
      askWake: (app) => asked.push(app),
      wake: { maxHeld: 10, maxWaitMs: 30_000, maxHeldTotal: 1 },
    });
    const held = send(port, { host: 'nap.localhost' });
    await until(() => r.counters.app('nap').inflight === 1, 'one held');
    const beyond = await send(port, { host: 'doze.localhost' });
    assert.equal(beyond.status, 503);
    assert.equal(beyond.headers['retry-after'], '5');
    assert.match(beyond.body, /this router holds 1 requests already/);
    assert.deepEqual(asked, ['nap', 'doze']);
    const b = await backend('b1');
    r.handle({ type: 'routes', version: 2, routes: [route('nap', [b.address]), sleeping('doze')], down: [] });
    assert.equal((await held).status, 200);
    // the total counts what is held now, not what ever was
    const again = send(port, { host: 'doze.localhost' });
    await until(() => r.counters.app('doze').inflight === 1, 'held again');
    r.handle({ type: 'routes', version: 3, routes: [route('nap', [b.address]), route('doze', [b.address])], down: [] });
    assert.equal((await again).status, 200);
  });

  it('holds a request refused by an instance stopping for a scale to zero, instead of 502', async () => {
    const gone = await deadAddress();
    const asked: string[] = [];
    const { router: r, port } = await router([route('nap', [gone])], {
      refusedWaitMs: 10_000,
      askWake: (app) => asked.push(app),
    });
    const answer = send(port, { host: 'nap.localhost' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // the table of the scale-down: no backend, sleeping
    r.handle({ type: 'routes', version: 2, routes: [sleeping('nap')], down: [] });
    await until(() => asked.length === 1, 'the refused request asked for a wake');
    const b = await backend('b1');
    r.handle({ type: 'routes', version: 3, routes: [route('nap', [b.address])], down: [] });
    const got = await answer;
    assert.deepEqual([got.status, got.body], [200, 'b1 GET /']);
    // a request refused after the sleeping table came is held at once
    r.handle({ type: 'routes', version: 4, routes: [{ ...route('nap', [gone]), sleeping: true }], down: [] });
    const second = send(port, { host: 'nap.localhost' });
    await until(() => asked.length === 2, 'held at once');
    r.handle({ type: 'routes', version: 5, routes: [route('nap', [b.address])], down: [] });
    assert.equal((await second).status, 200);
  });

  it('asks one wake of Redis for many requests across two workers', async () => {
    const claims: string[] = [];
    // a still clock: the workers' asks again (every second) are joined however long the test takes
    const requester = new WakeRequester(
      { claim: async (app) => (claims.push(app), true) },
      () => undefined,
      () => 0,
    );
    const workers = await Promise.all(
      [1, 2].map(() => router([sleeping('nap')], { askWake: (app) => requester.request(app) })),
    );
    const answers = workers.flatMap(({ port }) => [1, 2, 3].map(() => send(port, { host: 'nap.localhost' })));
    await until(() => workers.every(({ router: r }) => r.counters.app('nap').inflight === 3), 'all held');
    assert.deepEqual(claims, ['nap']);
    await until(() => requester.asked.get('nap') === 1, 'counted as one wake');
    const b = await backend('b2');
    for (const { router: r } of workers)
      r.handle({ type: 'routes', version: 2, routes: [route('nap', [b.address])], down: [] });
    assert.deepEqual(
      (await Promise.all(answers)).map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
    );
  });
});

describe('router: the hard limit', () => {
  const limited = (app: string, addresses: string[], hardLimit: number): AppRoute => ({
    ...route(app, addresses),
    hardLimit,
  });
  /** A backend that answers only when told, and counts how many it has at once at most. */
  async function gated(name: string): Promise<Backend & { open: ServerResponse[]; most: () => number }> {
    const open: ServerResponse[] = [];
    let now = 0;
    let most = 0;
    const b = await backend(name, (req, res) => {
      now++;
      most = Math.max(most, now);
      res.once('finish', () => now--);
      open.push(res);
    });
    return Object.assign(b, { open, most: () => most });
  }
  const answer = (res: ServerResponse | undefined, body: string): void => {
    assert.ok(res, 'a request to answer');
    res.end(body);
  };

  it('sends an instance no more than the limit, queues the rest in order and sends each on as one finishes', async () => {
    const b = await gated('b1');
    const { router: r, port } = await router([limited('shop', [b.address], 2)]);
    // one at a time, each counted before the next is sent: the order they came in is known
    const answers: Array<Promise<Answer>> = [];
    for (const n of [1, 2, 3, 4]) {
      answers.push(send(port, { path: `/${n}` }));
      await until(() => r.counters.app('shop').inflight === n, `request ${n} at the router`);
    }
    await until(() => b.open.length === 2, 'two at the backend, the other two wait');
    // waiting requests count as in flight: the autoscale signal sees the whole load
    assert.equal(r.counters.app('shop').limitQueued, 2);
    answer(b.open[0], 'one');
    await until(() => b.open.length === 3, 'the first in the queue went on');
    assert.equal(b.requests[2]?.url, '/3', 'first come, first served');
    for (const res of b.open.slice(1)) res.end('more');
    await until(() => b.open.length === 4, 'the last one went on');
    answer(b.open[3], 'last');
    assert.deepEqual(
      (await Promise.all(answers)).map((a) => a.status),
      [200, 200, 200, 200],
    );
    assert.equal(b.most(), 2, 'never more than the limit at once');
    assert.equal(r.counters.app('shop').limitShed, 0);
  });

  it('picks the least loaded backend below the limit, and the first to drop below it for a waiting request', async () => {
    const b1 = await gated('b1');
    const b2 = await gated('b2');
    const { router: r, port } = await router([limited('shop', [b1.address, b2.address], 1)]);
    const first = send(port, { path: '/1' });
    const second = send(port, { path: '/2' });
    await until(() => b1.open.length === 1 && b2.open.length === 1, 'one on each');
    const third = send(port, { path: '/3' });
    await until(() => r.counters.app('shop').inflight === 3, 'the third waits');
    answer(b2.open[0], 'b2');
    await until(() => b2.open.length === 2, 'the third went to b2, which dropped below the limit');
    assert.equal(b1.open.length, 1);
    answer(b2.open[1], 'b2 again');
    answer(b1.open[0], 'b1');
    assert.deepEqual(
      (await Promise.all([first, second, third])).map((a) => a.body),
      ['b1', 'b2', 'b2 again'],
    );
  });

  it('answers 503 with Retry-After beyond the queue and after the wait, and counts them shed', async () => {
    const b = await gated('b1');
    const { router: r, port } = await router([limited('shop', [b.address], 1)], {
      queue: { maxQueued: 1, maxWaitMs: 200 },
    });
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    const waits = send(port, { path: '/2' });
    await until(() => r.counters.app('shop').inflight === 2, 'one queued');
    const beyond = await send(port, { path: '/3' });
    assert.equal(beyond.status, 503);
    assert.equal(beyond.headers['retry-after'], '1');
    assert.match(
      beyond.body,
      /shop has 1 requests in flight on each instance, its hard limit, and 1 more already wait/,
    );
    const late = await waits;
    assert.equal(late.status, 503);
    assert.equal(late.headers['retry-after'], '1');
    assert.match(late.body, /shop stayed at its hard limit of 1 requests per instance for 200 ms/);
    assert.deepEqual([r.counters.app('shop').limitQueued, r.counters.app('shop').limitShed], [1, 2]);
    answer(b.open[0], 'done');
    assert.equal((await busy).status, 200);
    assert.equal(b.requests.length, 1, 'the shed requests never reached the backend');
  });

  it('lets a waiting client leave, and sends the next one on instead', async () => {
    const b = await gated('b1');
    const { router: r, port } = await router([limited('shop', [b.address], 1)]);
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    const leaver = request({ host: '127.0.0.1', port, path: '/2', headers: { host: 'shop.localhost' }, agent: false });
    leaver.on('error', () => undefined);
    leaver.end();
    await until(() => r.counters.app('shop').inflight === 2, 'queued');
    const stays = send(port, { path: '/3' });
    await until(() => r.counters.app('shop').inflight === 3, 'both queued');
    leaver.destroy();
    await until(() => r.counters.app('shop').inflight === 2, 'the leaver is gone from the queue');
    answer(b.open[0], 'one');
    await until(() => b.open.length === 2, 'the next went on');
    assert.equal(b.requests[1]?.url, '/3');
    answer(b.open[1], 'three');
    assert.deepEqual([(await busy).status, (await stays).body], [200, 'three']);
  });

  it('queues a websocket upgrade at the limit (an open websocket holds its slot) and proxies it once one closes', async () => {
    const b = await backend('ws');
    b.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
      socket.on('end', () => socket.end());
    });
    const { router: r, port } = await router([limited('shop', [b.address], 1)]);
    const first = await upgrade(port, 'shop.localhost');
    assert.equal(first.status, 101);
    const second = upgrade(port, 'shop.localhost');
    await until(() => r.counters.app('shop').limitQueued === 1, 'the second upgrade waits');
    first.socket.end();
    const { socket, status } = await second;
    assert.equal(status, 101);
    socket.write('hi');
    assert.equal(await firstData(socket), 'echo:hi');
    socket.end();
  });

  it('lets a waiting upgrade whose client half-closes leave the queue: the backend never sees it', async () => {
    const b = await gated('b1');
    const upgrades: string[] = [];
    b.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      upgrades.push(req.url ?? '');
      socket.destroy();
    });
    const { router: r, port } = await router([limited('shop', [b.address], 1)]);
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    const { socket } = rawUpgrade(port, 'shop.localhost');
    await until(() => r.counters.app('shop').inflight === 2, 'the upgrade waits');
    socket.end(); // FIN: the client gave up
    await until(() => r.counters.app('shop').inflight === 1, 'no longer waiting nor in flight');
    answer(b.open[0], 'one');
    assert.equal((await busy).status, 200);
    // the slot it would have taken goes to the next request
    const next = send(port, { path: '/2' });
    await until(() => b.open.length === 2, 'the next request at the backend');
    answer(b.open[1], 'two');
    assert.equal((await next).body, 'two');
    assert.deepEqual(upgrades, []);
  });

  it('queues a POST at the limit rather than send it to a backend cooling down after a refusal', async () => {
    const b = await gated('b1');
    const gone = await deadAddress();
    const { router: r, port, refused } = await router([limited('shop', [gone, b.address], 1)]);
    // the first is refused by the dead one (now cooling down) and retried on b, which it holds
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    assert.deepEqual(refused, [gone]);
    const post = send(port, { method: 'POST', path: '/order', body: 'one pizza' });
    await until(() => r.counters.app('shop').limitQueued === 1, 'the POST waits for b');
    answer(b.open[0], 'one');
    await until(() => b.open.length === 2, 'the POST went on to b');
    answer(b.open[1], 'ordered');
    assert.deepEqual([(await busy).status, (await post).status, (await post).body], [200, 200, 'ordered']);
    assert.deepEqual(refused, [gone], 'tried on the refusing backend once only');
  });

  it('queues a retry at the limit, counted, and never sends it back to the backend that refused it', async () => {
    const b = await gated('b1');
    const gone = await deadAddress();
    const { router: r, port, refused } = await router([limited('shop', [b.address, gone], 1)]);
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'b at the limit');
    // the next goes to the idle dead one, is refused, and waits for b
    const retried = send(port, { path: '/2' });
    await until(() => refused.length === 1 && r.counters.app('shop').inflight === 2, 'refused, then queued');
    assert.equal(r.counters.app('shop').limitQueued, 1, 'counted as queued at the limit');
    // the checks say it is back (the cool-down ends): the queue is looked at, the retry stays
    r.handle({ type: 'health', address: gone, healthy: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(refused, [gone], 'not tried again on the one that refused it');
    answer(b.open[0], 'one');
    await until(() => b.open.length === 2, 'the retry went on to b');
    answer(b.open[1], 'two');
    assert.deepEqual([(await busy).status, (await retried).body], [200, 'two']);
    assert.equal(r.counters.app('shop').limitQueued, 1);
    assert.deepEqual(refused, [gone]);
  });

  it('answers the waiting 503 at once when no backend passes its checks any longer', async () => {
    const b = await gated('b1');
    const { router: r, port } = await router([limited('shop', [b.address], 1)], {
      queue: { maxQueued: 10, maxWaitMs: 30_000 },
    });
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    let late: Answer | undefined;
    void send(port, { path: '/2' }).then((a) => (late = a));
    await until(() => r.counters.app('shop').inflight === 2, 'queued');
    r.handle({ type: 'health', address: b.address, healthy: false });
    await until(() => late !== undefined, 'answered without waiting out its 30 s');
    assert.equal(late?.status, 503);
    assert.match(late?.body ?? '', /shop has no instance running that passes its health check/);
    answer(b.open[0], 'one');
    assert.equal((await busy).status, 200);
  });

  it('queues no more than its own total across apps, which leaves room for another app to wake', async () => {
    const b = await gated('b1');
    const asked: string[] = [];
    const { router: r, port } = await router(
      [limited('hog', [b.address], 1), { ...route('nap', []), sleeping: true }],
      {
        askWake: (app) => asked.push(app),
        wake: { maxHeld: 10, maxWaitMs: 30_000, maxHeldTotal: 1 },
        queue: { maxQueued: 10, maxWaitMs: 30_000, maxQueuedTotal: 1 },
      },
    );
    const busy = send(port, { host: 'hog.localhost', path: '/1' });
    await until(() => b.open.length === 1, 'hog at its limit');
    const queued = send(port, { host: 'hog.localhost', path: '/2' });
    await until(() => r.counters.app('hog').inflight === 2, 'one queued');
    const beyond = await send(port, { host: 'hog.localhost', path: '/3' });
    assert.equal(beyond.status, 503);
    assert.equal(beyond.headers['retry-after'], '1');
    assert.match(beyond.body, /hog is at its hard limit and this router queues 1 requests already/);
    // the wake's total is its own: nap's request is held, and served once it wakes
    const woken = send(port, { host: 'nap.localhost' });
    await until(() => r.counters.app('nap').inflight === 1, 'held for the wake');
    assert.deepEqual(asked, ['nap']);
    const awake = await backend('b2');
    r.handle({
      type: 'routes',
      version: 2,
      routes: [limited('hog', [b.address], 1), route('nap', [awake.address])],
      down: [],
    });
    assert.deepEqual([(await woken).status, (await woken).body], [200, 'b2 GET /']);
    answer(b.open[0], 'one');
    await until(() => b.open.length === 2, 'the queued one went on');
    answer(b.open[1], 'two');
    assert.deepEqual([(await busy).status, (await queued).status], [200, 200]);
  });

  it('asks for the wake of an app that goes to sleep while requests wait at its limit, and again', async () => {
    const b = await gated('b1');
    const asked: string[] = [];
    const { router: r, port } = await router([limited('shop', [b.address], 1)], {
      askWake: (app) => asked.push(app),
      wake: { maxHeld: 10, maxWaitMs: 30_000, askEveryMs: 10 },
      queue: { maxQueued: 10, maxWaitMs: 30_000 },
    });
    const busy = send(port, { path: '/1' });
    await until(() => b.open.length === 1, 'at the limit');
    const waits = send(port, { path: '/2' });
    await until(() => r.counters.app('shop').inflight === 2, 'queued');
    r.handle({ type: 'routes', version: 2, routes: [{ ...limited('shop', [], 1), sleeping: true }], down: [] });
    await until(() => asked.length >= 2, 'the wake asked, and asked again');
    assert.ok(asked.every((app) => app === 'shop'));
    const awake = await backend('b2');
    r.handle({ type: 'routes', version: 3, routes: [limited('shop', [awake.address], 1)], down: [] });
    assert.deepEqual([(await waits).status, (await waits).body], [200, 'b2 GET /2']);
    const after = asked.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(asked.length, after, 'no ask once nothing waits');
    answer(b.open[0], 'one');
    assert.equal((await busy).status, 200);
  });

  it('queues nothing while it shuts down: a request that would wait answers 503 at once', async () => {
    const b = await gated('b1');
    const { router: r, port } = await router([limited('shop', [b.address], 1)]);
    // two requests pipelined on one connection: the second comes once the router is closing
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    client.on('error', () => undefined);
    client.write('GET /1 HTTP/1.1\r\nHost: shop.localhost\r\n\r\n');
    await until(() => b.open.length === 1, 'at the limit');
    // (the second's answer is never written after the first's Connection: close: not waited for)
    const closed = r.close(1000);
    client.write('GET /2 HTTP/1.1\r\nHost: shop.localhost\r\n\r\n');
    await until(() => r.counters.app('shop').inflight === 2, 'the second at the router');
    assert.equal(r.counters.app('shop').limitQueued, 0, 'not queued');
    answer(b.open[0], 'one');
    await closed;
    assert.equal(b.requests.length, 1, 'the second never went on');
  });
});

describe('router: websockets answered by the router', () => {
  it('closes an upgrade it refused once the answer is written, though the client keeps its side open', async () => {
    const { router: r, port } = await router([{ ...route('shop', []), maintenance: true }]);
    const { socket, received } = rawUpgrade(port, 'shop.localhost', true);
    let ended = false;
    socket.on('end', () => (ended = true));
    await until(() => received().includes('503 Service Unavailable'), 'refused');
    await until(() => ended && r.active === 0, 'closed by the router, nothing left in flight');
    assert.equal(r.counters.app('shop').inflight, 0);
  });
});

describe('router: websockets to a sleeping app', () => {
  it('holds the upgrade, asks for the wake, and proxies it once a backend appears', async () => {
    const b = await backend('ws');
    b.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
      socket.on('end', () => socket.end());
    });
    const asked: string[] = [];
    const {
      router: r,
      port,
      log,
    } = await router([{ ...route('nap', []), sleeping: true }], {
      askWake: (app) => asked.push(app),
    });
    const held = upgrade(port, 'nap.localhost');
    await until(() => r.counters.app('nap').inflight === 1, 'the upgrade is held');
    assert.deepEqual(asked, ['nap']);
    r.handle({ type: 'routes', version: 2, routes: [route('nap', [b.address])], down: [] });
    const { socket, status } = await held;
    assert.equal(status, 101);
    socket.write('awake');
    assert.equal(await firstData(socket), 'echo:awake');
    socket.end();
    const [entry] = await lines(log, 1);
    assert.equal(entry?.status, 101);
    assert.equal(entry?.backend, b.address);
  });

  it('answers a held upgrade 503 beyond the wait, and at once after a failed wake', async () => {
    const { router: r, port } = await router([{ ...route('nap', []), sleeping: true }], {
      askWake: () => undefined,
      wake: { maxHeld: 10, maxWaitMs: 150 },
    });
    const late = await upgrade(port, 'nap.localhost');
    assert.equal(late.status, 503, 'held, then too late');
    r.handle({
      type: 'routes',
      version: 2,
      routes: [{ ...route('nap', []), sleeping: true, wakeRetryAt: Date.now() + 20_000 }],
      down: [],
    });
    const failed = await upgrade(port, 'nap.localhost');
    assert.equal(failed.status, 503);
    await until(() => r.counters.app('nap').inflight === 0, 'nothing held or in flight');
  });
});
