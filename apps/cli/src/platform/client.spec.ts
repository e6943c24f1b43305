import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PlatformCa, ensurePlatformCa, issueLeaf } from '@paas/platform';
import { after, before, describe, it } from 'node:test';
import { ApiClient, PlatformApiError, ApiUnreachableError, apiPath } from './client';
import { FakeApi } from './testing/fake-api';
import type { App } from '@paas/api-types';

/** A server answering each request with `handler`, for the answers the fake api never gives. */
async function rawServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the API client', () => {
  let api: FakeApi;
  before(async () => {
    api = await new FakeApi().start();
  });
  after(() => api.close());

  it('sends JSON with the Bearer token and reads JSON back', async () => {
    const client = new ApiClient(api.url, api.adminToken);
    const app = await client.post<App>('/api/apps', { name: 'client-app' });
    assert.equal(app.name, 'client-app');
    assert.deepEqual(
      (await client.get<App[]>('/api/apps')).map((a) => a.name),
      ['client-app'],
    );
    const last = api.requests.at(-1);
    assert.equal(last?.authorization, `Bearer ${api.adminToken}`);
    const created = api.requests.find((r) => r.method === 'POST');
    assert.deepEqual(created?.body, { name: 'client-app' });
  });

  it('turns error answers into PlatformApiError with the code and message', async () => {
    const client = new ApiClient(api.url, api.adminToken);
    await assert.rejects(client.get(apiPath('apps', 'nope')), (err: unknown) => {
      assert.ok(err instanceof PlatformApiError);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'not_found');
      assert.equal(err.message, "app 'nope' not found");
      return true;
    });
    await assert.rejects(client.post('/api/apps', { name: 'client-app' }), {
      name: 'PlatformApiError',
      status: 409,
      code: 'conflict',
    });
    await assert.rejects(new ApiClient(api.url, 'paas_wrong').get('/api/apps'), { status: 401, code: 'unauthorized' });
    await assert.rejects(new ApiClient(api.url, undefined).get('/api/apps'), { status: 401 });
  });

  it('encodes path segments', () => {
    assert.equal(apiPath('apps', 'a b', 'domains', 'x/y'), '/api/apps/a%20b/domains/x%2Fy');
  });

  it('names the address when nothing answers', async () => {
    const gone = await rawServer(() => undefined);
    await gone.close(); // the port is free now: connection refused
    await assert.rejects(new ApiClient(gone.url, 't').get('/api/apps'), (err: unknown) => {
      assert.ok(err instanceof ApiUnreachableError);
      assert.equal(
        err.message,
        `cannot reach the paas API at ${gone.url}: connection refused (is the api running? \`paas up\` starts it)`,
      );
      return true;
    });
  });

  it('copes with answers that are not the api’s JSON, and with a base path', async () => {
    const seen: string[] = [];
    const server = await rawServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url?.endsWith('/html')) {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html>bad gateway</html>');
      } else if (req.url?.endsWith('/limited')) {
        res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '42' });
        res.end('{"code":"rate_limited"}');
      } else if (req.url?.endsWith('/invalid')) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(
          '{"code":"invalid_params","message":"invalid parameters","details":[{"field":"name","rule":"a DNS label"}]}',
        );
      } else if (req.url?.endsWith('/notjson')) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('hello');
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    try {
      const client = new ApiClient(`${server.url}/prefix`, 't');
      await assert.rejects(client.get('/api/html'), {
        status: 502,
        code: 'unavailable',
        message: 'GET /api/html: 502 Bad Gateway',
      });
      await assert.rejects(client.get('/api/limited'), {
        status: 429,
        code: 'rate_limited',
        message: 'too many failed authentications (retry after 42 s)',
      });
      await assert.rejects(client.get('/api/invalid'), { details: [{ field: 'name', rule: 'a DNS label' }] });
      await assert.rejects(client.get('/api/notjson'), {
        code: 'unavailable',
        message: 'the api answered GET /api/notjson with something other than JSON',
      });
      assert.equal(await client.delete('/api/empty'), undefined);
      assert.deepEqual(seen, [
        '/prefix/api/html',
        '/prefix/api/limited',
        '/prefix/api/invalid',
        '/prefix/api/notjson',
        '/prefix/api/empty',
      ]);
    } finally {
      await server.close();
    }
  });

  it('streams server-sent events as they come', async () => {
    const client = new ApiClient(api.url, api.adminToken);
    api.log('client-app', 'api', 'first');
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of client.events(
        `${apiPath('apps', 'client-app', 'logs')}?tail=10&follow=1`,
        controller.signal,
      )) {
        seen.push(JSON.parse(event.data).line as string);
        if (seen.length === 1) api.log('client-app', 'web.1', 'second');
        if (seen.length === 2) controller.abort();
      }
    })();
    await reading; // aborting ends the events quietly
    assert.deepEqual(seen, ['first', 'second']);
  });
});

describe('the API client over https', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-cli-tls-'));
  let ca: PlatformCa;
  let other: PlatformCa;
  let server: https.Server;
  let url = '';
  before(async () => {
    ca = await ensurePlatformCa(join(base, 'ca'));
    other = await ensurePlatformCa(join(base, 'other'));
    const leaf = await issueLeaf(ca, { commonName: 'paas api', sans: ['127.0.0.1'] });
    server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(base, { recursive: true, force: true });
  });

  it('talks to an api whose certificate chains to the CA it trusts', async () => {
    assert.deepEqual(await new ApiClient(url, 't', { file: ca.certFile, pem: ca.cert }).get('/api/apps'), []);
  });

  it('refuses one that does not, saying which CA it trusted', async () => {
    for (const [trust, said] of [
      [null, /not signed by a trusted CA .*Node's default CAs.*PAAS_CA_FILE/],
      [{ file: other.certFile, pem: other.cert }, /not signed by a trusted CA .*other\/ca\.crt/],
    ] as const) {
      await assert.rejects(new ApiClient(url, 't', trust).get('/api/apps'), (err: unknown) => {
        assert.ok(err instanceof ApiUnreachableError);
        assert.match(err.message, /^cannot reach the paas API at https:\/\/127\.0\.0\.1:\d+: its TLS certificate/);
        assert.match(err.message, said);
        return true;
      });
    }
  });
});

describe('ApiClient.upgrade', () => {
  it('resolves with the switched connection, or throws the refusal as open does', async () => {
    const server = http.createServer((_req, res) => res.writeHead(500).end());
    let seen: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (req.headers.authorization !== 'Bearer good') {
        const json = JSON.stringify({ code: 'forbidden', message: "this token may not use app 'shop'" });
        socket.end(
          `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
        );
        return;
      }
      seen = { headers: req.headers, body: head.toString() };
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: paas-tty/1\r\n\r\nhello');
      socket.on('data', (chunk: Buffer) => socket.end(`echo:${chunk.toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { socket, head } = await new ApiClient(url, 'good').upgrade('POST', '/api/apps/shop/runs', 'paas-tty/1', {
        body: { command: 'sh', tty: true },
      });
      assert.equal(seen?.headers.upgrade, 'paas-tty/1');
      assert.equal(seen?.headers.connection, 'Upgrade');
      assert.equal(seen?.body, JSON.stringify({ command: 'sh', tty: true }), 'the body goes with the request');
      let received = head.toString();
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      await new Promise<void>((resolve) => socket.end('typed', () => resolve()));
      await new Promise((resolve) => socket.once('close', resolve));
      assert.equal(received, 'helloecho:typed');

      await assert.rejects(
        new ApiClient(url, 'bad').upgrade('POST', '/api/apps/shop/runs', 'paas-tty/1', { body: {} }),
        (err: unknown) =>
          err instanceof PlatformApiError && err.status === 403 && /may not use app 'shop'/.test(err.message),
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
