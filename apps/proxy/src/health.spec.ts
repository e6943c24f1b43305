import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthChecker, type ProbeTarget, probe } from './health';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  return Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A real HTTP backend whose answer the test changes. */
async function backend(): Promise<{
  port: number;
  status: number;
  seen: Array<{ url?: string; headers: IncomingHttpHeaders }>;
}> {
  const state = { port: 0, status: 200, seen: [] as Array<{ url?: string; headers: IncomingHttpHeaders }> };
  const server = createServer((req, res) => {
    state.seen.push({ url: req.url, headers: req.headers });
    res.statusCode = state.status;
    res.end('ok');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

function target(port: number, check: ProbeTarget['check']): ProbeTarget {
  return { address: `127.0.0.1:${port}`, host: '127.0.0.1', port, check, hostHeader: 'shop.localhost' };
}

describe('probes', () => {
  it('GETs the check path with the app host and passes on 2xx and 3xx only', async () => {
    const b = await backend();
    assert.equal(await probe(target(b.port, { type: 'http', path: '/health?deep=1' }), 2000), null);
    assert.equal(b.seen[0]?.url, '/health?deep=1');
    assert.equal(b.seen[0]?.headers.host, 'shop.localhost');
    b.status = 302;
    assert.equal(await probe(target(b.port, { type: 'http', path: '/' }), 2000), null);
    b.status = 503;
    assert.equal(await probe(target(b.port, { type: 'http', path: '/up' }), 2000), 'GET /up answered 503');
    b.status = 404;
    assert.equal(await probe(target(b.port, { type: 'http', path: '/up' }), 2000), 'GET /up answered 404');
  });

  it('connects for a TCP check', async () => {
    const b = await backend();
    assert.equal(await probe(target(b.port, { type: 'tcp' }), 2000), null);
    const port = await closedPort();
    assert.equal(await probe(target(port, { type: 'tcp' }), 2000), 'connect: ECONNREFUSED');
    assert.equal(await probe(target(port, { type: 'http', path: '/' }), 2000), 'GET /: ECONNREFUSED');
  });

  it('gives up on a backend that accepts and never answers', async () => {
    const silent = createServer(() => undefined);
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    assert.equal(await probe(target(port, { type: 'http', path: '/' }), 100), 'no answer within 100 ms');
  });
});

describe('health checker', () => {
  it('takes a backend out after `fall` failures and back after `rise` passes', async () => {
    const b = await backend();
    const changes: Array<[string, boolean, string | null]> = [];
    const checker = new HealthChecker({
      intervalMs: 20,
      timeoutMs: 1000,
      fall: 2,
      rise: 2,
      domain: 'localhost',
      onChange: (address, healthy, reason) => changes.push([address, healthy, reason]),
    });
    const address = `127.0.0.1:${b.port}`;
    const routes = new Map([
      [
        'shop',
        {
          app: 'shop',
          hosts: [],
          backends: [{ id: 'web.1', address }],
          check: { type: 'http' as const, path: '/health' },
        },
      ],
    ]);
    checker.setTargets(routes);
    assert.equal(checker.isHealthy(address), true, 'a new backend starts healthy');
    checker.start();
    try {
      const until = async (what: string, ok: () => boolean): Promise<void> => {
        for (let i = 0; i < 500 && !ok(); i++) await sleep(10);
        assert.ok(ok(), `timed out waiting for ${what}`);
      };
      await until('some checks', () => b.seen.length >= 3);
      assert.deepEqual(changes, []);
      b.status = 500;
      await until('the backend to be out', () => changes.length === 1);
      assert.deepEqual(changes[0], [address, false, 'GET /health answered 500']);
      assert.deepEqual(checker.down(), [address]);
      const failedChecks = b.seen.filter((s) => s.url === '/health').length;
      b.status = 200;
      await until('the backend to be back', () => changes.length === 2);
      assert.deepEqual(changes[1], [address, true, null]);
      assert.ok(b.seen.length >= failedChecks + 2, 'two passes were needed');
      assert.deepEqual(checker.down(), []);
      // A backend removed from the table is no longer checked.
      checker.setTargets(new Map());
      assert.equal(checker.status(address), undefined);
    } finally {
      checker.stop();
    }
  });
});
