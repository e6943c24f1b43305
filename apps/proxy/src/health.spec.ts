import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppRoute, HealthCheck } from '@paas/platform/routes';
import { HealthChecker, type HealthOptions, type ProbeTarget, probe } from './health';

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

/**
 * The schedule, on a fake clock with a fake prober (the probe itself is tested above): what
 * is counted is which probes start at which (virtual) time, never how long anything takes.
 */
describe('health checker schedule', () => {
  function table(count: number, check: HealthCheck = { type: 'tcp' }): Map<string, AppRoute> {
    const backends = Array.from({ length: count }, (_, i) => ({ id: `web.${i + 1}`, address: `10.0.0.1:${1000 + i}` }));
    return new Map([['shop', { app: 'shop', hosts: [], backends, check }]]);
  }

  /** A checker whose probes answer what `verdict` says, at once; the clock moves only by `advance`. */
  function harness(options: Partial<HealthOptions> = {}) {
    let clock = 0;
    const starts: Array<{ at: number; address: string; check: HealthCheck }> = [];
    const changes: Array<[string, boolean]> = [];
    const verdict = new Map<string, string | null>();
    const held: Array<(reason: string | null) => void> = [];
    let hold = false;
    const checker = new HealthChecker({
      intervalMs: 1000,
      timeoutMs: 500,
      fall: 2,
      rise: 1,
      domain: 'localhost',
      onChange: (address, healthy) => changes.push([address, healthy]),
      now: () => clock,
      probe: (target) => {
        starts.push({ at: clock, address: target.address, check: target.check });
        if (hold) return new Promise((resolve) => held.push(resolve));
        return Promise.resolve(verdict.get(target.address) ?? null);
      },
      ...options,
    });
    const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    return {
      checker,
      starts,
      changes,
      verdict,
      held,
      holdProbes: (on: boolean) => (hold = on),
      settle,
      /** Moves the clock by `ms`, one tick at a time, letting each tick's probes finish. */
      async advance(ms: number): Promise<void> {
        for (const end = clock + ms; clock < end;) {
          clock = Math.min(end, clock + checker.tickMs);
          checker.tick();
          await settle();
        }
      },
    };
  }

  it('checks each backend once per interval, each on its own phase rather than all at once', async () => {
    const h = harness();
    h.checker.setTargets(table(200));
    await h.advance(10_000);
    const perBackend = new Map<string, number>();
    const perTick = new Map<number, number>();
    for (const s of h.starts) {
      perBackend.set(s.address, (perBackend.get(s.address) ?? 0) + 1);
      perTick.set(s.at, (perTick.get(s.at) ?? 0) + 1);
    }
    assert.equal(perBackend.size, 200);
    for (const [address, n] of perBackend)
      assert.ok(n >= 9 && n <= 11, `${address} was checked ${n} times in 10 intervals`);
    const burst = Math.max(...perTick.values());
    // 200 backends over 20 ticks per interval: about 10 a tick; all at once would be 200.
    assert.ok(burst <= 20, `${burst} probes started in one tick`);
  });

  it('checks a backend that keeps passing at the idle interval, and a failing one at the interval again', async () => {
    const h = harness({ idleIntervalMs: 5000 });
    h.checker.setTargets(table(1));
    const address = '10.0.0.1:1000';
    await h.advance(60_000);
    // a new backend has passed the deploy check: one every 5 s from the start, far fewer than 60
    const idle = h.starts.length;
    assert.ok(idle >= 11 && idle <= 13, `${idle} checks in 60 s`);
    assert.ok((h.starts[0]?.at ?? 0) < 5000, 'the first within the idle interval, on its phase');
    const last = h.starts.at(-1)?.at ?? 0;
    assert.ok(last - (h.starts.at(-2)?.at ?? 0) >= 5000, 'settled checks are 5 s apart');

    h.verdict.set(address, 'connect: ECONNREFUSED');
    await h.advance(5000); // the next settled check fails...
    const failedAt = h.starts.at(-1)?.at ?? 0;
    assert.ok(failedAt > last);
    await h.advance(1000); // ...and the one after comes an interval later, not an idle one
    assert.equal((h.starts.at(-1)?.at ?? 0) - failedAt, 1000);
    assert.deepEqual(h.changes, [[address, false]], 'out after `fall` failures, reported once');
    await h.advance(10_000);
    assert.equal(h.changes.length, 1, 'still out, not reported again');
    assert.equal(h.starts.filter((s) => s.at > failedAt).length, 11, 'a backend that is out is checked every interval');

    h.verdict.delete(address);
    await h.advance(1000);
    assert.deepEqual(h.changes.at(-1), [address, true]);
    assert.deepEqual(h.checker.down(), []);
  });

  it('checks at once when asked (a worker saw a refusal), whatever the schedule', async () => {
    const h = harness({ idleIntervalMs: 5000 });
    h.checker.setTargets(table(1));
    const address = '10.0.0.1:1000';
    await h.advance(20_000);
    const before = h.starts.length;
    h.verdict.set(address, 'connect: ECONNREFUSED');
    h.checker.checkNow(address);
    await h.settle();
    assert.equal(h.starts.length, before + 1);
    assert.equal(h.checker.isHealthy(address), true, 'one failure is not `fall` failures');
    await h.advance(1000);
    assert.equal(h.starts.length, before + 2, 'the next check comes an interval later');
    assert.equal(h.checker.isHealthy(address), false);
  });

  it('ignores a probe still in flight for a backend whose check was replaced', async () => {
    const h = harness({ fall: 1 });
    h.checker.setTargets(table(1, { type: 'http', path: '/old' }));
    h.holdProbes(true);
    await h.advance(1000);
    assert.equal(h.held.length, 1);
    h.checker.setTargets(table(1, { type: 'http', path: '/new' }));
    h.held[0]?.('GET /old answered 404');
    await h.settle();
    assert.deepEqual(h.changes, []);
    assert.equal(h.checker.status('10.0.0.1:1000')?.lastError, null);
    h.holdProbes(false);
    await h.advance(h.checker.tickMs);
    assert.deepEqual(h.starts.at(-1)?.check, { type: 'http', path: '/new' }, 'the new check runs at once');
  });
});
