/**
 * The router as it runs: `dist/apps/proxy/main.js` with its workers, a real redis-server for
 * the route table, real backends on 127.0.0.1. Routes are written with the control plane's
 * own writer functions while the router runs, so every test also checks live updates.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import {
  ROUTES_CHANNEL,
  ROUTES_KEY,
  ROUTES_VERSION_KEY,
  connectRedis,
  readRouterMetrics,
  removeAppRoutes,
  setAppRoutes,
} from '@paas/platform/routes';
import { type LocalRedis, sampleValue } from '@paas/platform/testing';
import {
  type Backend,
  RouterProcess,
  backend,
  childBackend,
  cleanup,
  deadAddress,
  ensureBuilt,
  raw,
  redisServer,
  resettingBackend,
  routerEnv,
  send,
  waitFor,
  websocket,
} from './support';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function backends(...list: Array<Backend | { address: string }>): Array<{ id: string; address: string }> {
  return list.map((b, i) => ({ id: `web.${i + 1}`, address: b.address }));
}

describe('router e2e', () => {
  let redis: LocalRedis;
  let writer: Redis;
  let router: RouterProcess;

  /** Waits until `host` answers something other than 404 (the change reached every worker). */
  const routed = (host: string, ok: (body: string) => boolean = () => true): Promise<unknown> =>
    waitFor(`${host} to be routed`, async () => {
      // Several tries on fresh connections, so that every worker is asked.
      for (let i = 0; i < 4; i++) {
        const answer = await send(router.port, { host });
        if (answer.status === 404 || !ok(answer.body)) return false;
      }
      return true;
    });

  before(async () => {
    ensureBuilt();
    redis = await redisServer();
    writer = connectRedis(redis.url);
    router = await new RouterProcess(
      routerEnv(redis.url, {
        PAAS_ROUTER_WORKERS: '2',
        PAAS_ROUTER_HEALTH_INTERVAL_MS: '200',
        PAAS_ROUTER_HEALTH_FALL: '1',
        PAAS_ROUTER_HEALTH_RISE: '1',
        PAAS_ROUTER_COOLDOWN_MS: '1000',
        PAAS_ROUTER_RESYNC_MS: '500',
        PAAS_ROUTER_ID: 'e2e-router',
      }),
    ).ready();
  });

  after(async () => {
    writer?.disconnect();
    await cleanup();
  });

  it('serves apps added while it runs, at APP.<domain> and custom domains, spreading requests', async () => {
    const [b1, b2] = [await backend('b1'), await backend('b2')];
    await setAppRoutes(writer, 'shop', ['shop.example.com'], backends(b1, b2));
    await routed('shop.localhost');
    for (const host of ['shop.localhost', 'SHOP.Example.COM:8080', 'shop.localhost.', 'shop.localhost:80']) {
      const answer = await send(router.port, { host, path: '/p?q=1' });
      assert.equal(answer.status, 200, host);
      assert.match(answer.body, /^b[12] \/p\?q=1$/, host);
    }
    const counts = { b1: 0, b2: 0 };
    for (let i = 0; i < 20; i++) {
      const answer = await send(router.port, { host: 'shop.localhost' });
      counts[answer.body.slice(0, 2) as 'b1' | 'b2']++;
    }
    // Each of the two workers alternates between the two backends.
    assert.ok(Math.abs(counts.b1 - counts.b2) <= 2, `round-robin: ${JSON.stringify(counts)}`);
  });

  it('follows the table live: new backends, garbage entries and messages, removed apps', async () => {
    const [c1, c2] = [await backend('c1'), await backend('c2')];
    await setAppRoutes(writer, 'live', [], backends(c1));
    await routed('live.localhost', (body) => body.startsWith('c1'));
    await setAppRoutes(writer, 'live', [], backends(c2));
    await routed('live.localhost', (body) => body.startsWith('c2'));
    for (let i = 0; i < 6; i++) assert.match((await send(router.port, { host: 'live.localhost' })).body, /^c2 /);

    // Garbage written past the writer functions is logged and skipped; the rest keeps working.
    await writer.hset(ROUTES_KEY, 'junk', '{not json');
    await writer.incr(ROUTES_VERSION_KEY);
    await writer.publish(ROUTES_CHANNEL, 'garbage on the channel');
    await waitFor(
      'the router to report the garbage',
      () => /skipped app "junk"/.test(router.stderr) && /ignored a message that is not/.test(router.stderr),
    );
    assert.equal((await send(router.port, { host: 'live.localhost' })).status, 200);
    assert.equal(router.child.exitCode, null, 'still running');
    await writer.hdel(ROUTES_KEY, 'junk');
    await writer.incr(ROUTES_VERSION_KEY);

    await removeAppRoutes(writer, 'live');
    await waitFor(
      'live.localhost to be gone',
      async () => (await send(router.port, { host: 'live.localhost' })).status === 404,
    );
  });

  it('answers 404, 400, 503 and 502 pages with the request id', async () => {
    await setAppRoutes(writer, 'idle', [], []);
    await setAppRoutes(writer, 'gone', [], backends({ address: await deadAddress() }));
    await setAppRoutes(writer, 'broken', [], backends(await resettingBackend()));
    await routed('idle.localhost');
    await routed('gone.localhost');
    await routed('broken.localhost');

    const unknown = await send(router.port, { host: 'nobody.localhost' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /No app answers at nobody\.localhost/);
    assert.ok(unknown.body.includes(String(unknown.headers['x-request-id'])));
    assert.equal((await send(router.port, { host: 'bad_host!' })).status, 400);
    const idle = await send(router.port, { host: 'idle.localhost' });
    assert.equal(idle.status, 503);
    assert.match(idle.body, /idle has no instance running/);
    // Up for the TCP check, but it resets every request: 502, retried or not.
    for (const method of ['POST', 'GET']) {
      const failed = await send(router.port, {
        host: 'broken.localhost',
        method,
        body: method === 'POST' ? 'x=1' : undefined,
      });
      assert.equal(failed.status, 502, method);
      assert.match(failed.body, /broken could not be reached or failed to answer \(ECONNRESET\)/);
    }
    // Nothing listening: 502 until the active check notices, then 503.
    const gone = await send(router.port, { host: 'gone.localhost' });
    assert.ok([502, 503].includes(gone.status), `got ${gone.status}`);
    await waitFor(
      'gone to answer 503',
      async () => (await send(router.port, { host: 'gone.localhost' })).status === 503,
    );
  });

  it('sets X-Forwarded-* and passes or makes request ids, and logs each request', async () => {
    const b = await backend('h1');
    await setAppRoutes(writer, 'hdrs', ['hdrs.example.org'], backends(b));
    await routed('hdrs.localhost');
    const before = b.seen.length;
    const kept = await send(router.port, {
      host: 'hdrs.example.org',
      path: '/who',
      headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-request-id': 'client-abc.1' },
    });
    assert.equal(kept.status, 200);
    const seen = b.seen[before]?.headers ?? {};
    assert.equal(seen.host, 'hdrs.example.org');
    assert.equal(seen['x-forwarded-for'], '198.51.100.1, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'hdrs.example.org');
    assert.equal(seen['x-forwarded-port'], String(router.port));
    assert.equal(seen['x-request-id'], 'client-abc.1');
    assert.equal(kept.headers['x-request-id'], 'client-abc.1');

    const made = await send(router.port, {
      host: 'hdrs.localhost',
      path: '/made',
      headers: { 'x-request-id': 'bad id\u00ff' },
    });
    const id = String(made.headers['x-request-id']);
    assert.match(id, UUID);
    assert.equal(b.seen.at(-1)?.headers['x-request-id'], id);

    const line = await waitFor('the access log line', () => router.accessLog().find((l) => l['requestId'] === id));
    assert.equal(line['app'], 'hdrs');
    assert.equal(line['host'], 'hdrs.localhost');
    assert.equal(line['method'], 'GET');
    assert.equal(line['path'], '/made');
    assert.equal(line['status'], 200);
    assert.equal(line['backend'], b.address);
    assert.equal(line['bytes'], Buffer.byteLength('h1 /made'));
    assert.equal(typeof line['durationMs'], 'number');
    assert.equal(typeof line['time'], 'string');
  });

  it('proxies websockets', async () => {
    const b = await backend('ws1');
    await setAppRoutes(writer, 'chat', [], backends(b));
    await routed('chat.localhost');
    const ws = await websocket(router.port, 'chat.localhost');
    assert.equal(ws.status, 101);
    assert.equal(await ws.say('hello'), 'echo: hello');
    assert.equal(await ws.say('again'), 'echo: again');
    ws.close();
    assert.equal(b.seen.at(-1)?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal((await websocket(router.port, 'nobody.localhost')).status, 404);
  });

  it('loses no idempotent request when a backend dies under load, and checks take it out', async () => {
    const list = [await childBackend('k1'), await childBackend('k2'), await childBackend('k3')];
    await setAppRoutes(writer, 'sturdy', [], backends(...list));
    await routed('sturdy.localhost');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = new Map<number, number>();
    const errors: string[] = [];
    const bodies: string[] = [];
    let stop = false;
    let done = 0;
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          const answer = await send(router.port, { host: 'sturdy.localhost', agent });
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          bodies.push(answer.body);
        } catch (err) {
          errors.push((err as Error).message);
        }
        done++;
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    try {
      await waitFor('load to run', () => done >= 200);
      list[0]?.kill();
      const killedAt = done;
      await waitFor('load to go on after the kill', () => done >= killedAt + 600, 30_000);
    } finally {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
    }
    assert.deepEqual(errors, []);
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok(!bodies.slice(-100).some((body) => body.startsWith('k1')), 'the dead backend answers nothing');
    const down = list[0]?.address;
    await waitFor('the active check to mark it down', async () =>
      (await router.metrics()).backends.some((b) => b.address === down && !b.healthy),
    );
  });

  it('takes a backend out when its health check fails and brings it back', async () => {
    const [h1, h2] = [await backend('h1'), await backend('h2')];
    await setAppRoutes(writer, 'checked', [], backends(h1, h2), { type: 'http', path: '/health' });
    await routed('checked.localhost');
    const healthy = async (b: Backend): Promise<boolean | undefined> =>
      (await router.metrics()).backends.find((x) => x.address === b.address)?.healthy;

    h1.healthy = false;
    await waitFor('h1 to be out', async () => (await healthy(h1)) === false);
    assert.match(router.stderr, new RegExp(`backend ${h1.address} is down: GET /health answered 500`));
    const during = await Promise.all(
      Array.from({ length: 10 }, () => send(router.port, { host: 'checked.localhost' })),
    );
    assert.deepEqual(
      during.map((a) => a.body.slice(0, 2)),
      Array(10).fill('h2'),
    );
    const check = h1.seen.find((s) => s.url === '/health');
    assert.equal(check?.headers.host, 'checked.localhost');

    h1.healthy = true;
    await waitFor('h1 to be back', async () => (await healthy(h1)) === true);
    await waitFor('h1 to serve again', async () =>
      (await send(router.port, { host: 'checked.localhost' })).body.startsWith('h1'),
    );
  });

  it('counts requests per app for the dashboard, at the admin address and in Redis', async () => {
    const b = await backend('m1');
    await setAppRoutes(writer, 'counted', [], backends(b));
    await routed('counted.localhost');
    const start = (await router.metrics()).apps['counted']?.requests ?? 0;
    for (let i = 0; i < 30; i++) await send(router.port, { host: 'counted.localhost' });
    // the figures add up each worker's last snapshot, taken at different moments: the total can
    // reach 30 while one worker's older snapshot still shows a request in flight
    const metrics = await waitFor('the requests to be counted, none in flight', async () => {
      const m = await router.metrics();
      const app = m.apps['counted'];
      return (app?.requests ?? 0) >= start + 30 && (app?.requestsPerSecond ?? 0) > 0 && app?.inflight === 0 ? m : null;
    });
    assert.equal(metrics.router, 'e2e-router');
    assert.equal(metrics.workers, 2);
    assert.ok((metrics.apps['counted']?.status['2xx'] ?? 0) >= 30);
    const published = await waitFor('metrics in Redis', async () =>
      (await readRouterMetrics(writer)).find(
        (m) => m.router === 'e2e-router' && (m.apps['counted']?.requests ?? 0) >= 30,
      ),
    );
    assert.ok(published.apps['counted']);
  });

  it('answers the same sums in Prometheus text at the admin address, and nowhere public', async () => {
    const b = await backend('p1');
    await setAppRoutes(writer, 'scraped', [], backends(b));
    await routed('scraped.localhost');
    for (let i = 0; i < 20; i++) await send(router.port, { host: 'scraped.localhost' });
    await send(router.port, { host: 'nosuch.localhost' });
    const app = { app: 'scraped' };
    const { families, contentType } = await waitFor('the workers to report the requests', async () => {
      const scraped = await router.prometheus();
      const count = sampleValue(scraped.families, 'paas_router_request_duration_seconds_count', app) ?? 0;
      return count >= 20 && sampleValue(scraped.families, 'paas_router_inflight', app) === 0 ? scraped : null;
    });
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(families.get('paas_router_requests_total')?.type, 'counter');
    // routed() sent a few of its own before the 20
    const answered = sampleValue(families, 'paas_router_requests_total', { ...app, code_class: '2xx' }) ?? 0;
    assert.ok(answered >= 20, `${answered} requests`);
    assert.equal(sampleValue(families, 'paas_router_requests_total', { ...app, code_class: '5xx' }), 0);
    // summed across both workers: every request is in a bucket, the +Inf one counts them all
    assert.equal(families.get('paas_router_request_duration_seconds')?.type, 'histogram');
    assert.equal(
      sampleValue(families, 'paas_router_request_duration_seconds_bucket', { ...app, le: '+Inf' }),
      answered,
    );
    assert.ok((sampleValue(families, 'paas_router_request_duration_seconds_sum', app) ?? 0) > 0);
    assert.ok((sampleValue(families, 'paas_router_response_bytes_total', app) ?? 0) > 0);
    assert.equal(sampleValue(families, 'paas_router_backends', app), 1);
    assert.ok((sampleValue(families, 'paas_router_unrouted_total') ?? 0) >= 1);
    assert.ok((sampleValue(families, 'paas_router_route_table_version') ?? 0) >= 1);
    assert.equal(sampleValue(families, 'paas_router_workers'), 2);
    // the public listener routes /metrics like any other path: to an app, or 404
    const outside = await send(router.port, { host: 'localhost', path: '/metrics' });
    assert.equal(outside.status, 404);
    assert.doesNotMatch(outside.body, /paas_router/);
  });

  it('runs its workers as processes and replaces one that dies', async () => {
    const b = await backend('w1');
    await setAppRoutes(writer, 'workers', [], backends(b));
    await routed('workers.localhost');
    const pids = router.workerPids();
    assert.equal(pids.length, 2, `two workers under the primary: ${pids.join(' ')}`);
    process.kill(pids[0] as number, 'SIGKILL');
    await waitFor('a replacement worker', () => {
      const now = router.workerPids();
      return now.length === 2 && !now.includes(pids[0] as number);
    });
    assert.match(router.stderr, new RegExp(`worker ${pids[0]} exited \\(SIGKILL\\)`));
    // The next change reaches both live workers, and the dead one no longer counts.
    const version = await setAppRoutes(writer, 'workers', ['w.example.test'], backends(b));
    await waitFor('every worker on the new table', async () => {
      const health = await router.health();
      return health.workerVersions.length === 2 && health.workerVersions.every((v) => v === version);
    });
    for (let i = 0; i < 10; i++) assert.equal((await send(router.port, { host: 'workers.localhost' })).status, 200);
  });

  it('answers malformed requests and keeps serving', async () => {
    const b = await backend('mal');
    await setAppRoutes(writer, 'sane', [], backends(b));
    await routed('sane.localhost');
    assert.match(
      await raw(router.port, `GET / HTTP/1.1\r\nHost: sane.localhost\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`),
      /^HTTP\/1\.1 431 /,
    );
    assert.match(await raw(router.port, '\u0000\u0001garbage\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await raw(router.port, 'GET / HTTP/1.1\r\nHost: a b c\r\n\r\n'), /^HTTP\/1\.1 400 /);
    // Two Host headers are refused (RFC 9112 §3.2); e2e/security/router.spec.ts tries more.
    assert.match(
      await raw(router.port, 'GET / HTTP/1.1\r\nHost: sane.localhost\r\nHost: other\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 400 [^]*more than one Host header/,
    );
    assert.match(await raw(router.port, 'GET / HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.equal((await send(router.port, { host: 'sane.localhost' })).status, 200);
    assert.equal(router.child.exitCode, null);
  });

  it('says why it cannot start when its address is taken', async () => {
    const second = new RouterProcess(
      routerEnv(redis.url, { PAAS_ROUTER_ADDR: `127.0.0.1:${router.port}`, PAAS_ROUTER_WORKERS: '1' }),
    );
    const { code } = await second.exited;
    assert.equal(code, 1);
    assert.match(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${router.port}: .*EADDRINUSE`));
  });
});

describe('router e2e: one worker, shutdown', () => {
  let redis: LocalRedis;
  let writer: Redis;

  before(async () => {
    ensureBuilt();
    redis = await redisServer();
    writer = connectRedis(redis.url);
  });
  after(async () => {
    writer?.disconnect();
    await cleanup();
  });

  it('sends each request to the backend with the fewest requests in flight', async () => {
    const router = await new RouterProcess(routerEnv(redis.url, { PAAS_ROUTER_WORKERS: '1' })).ready();
    const [slow, fast] = [await backend('slow'), await backend('fast')];
    await setAppRoutes(writer, 'busy', [], backends(slow, fast));
    await waitFor(
      'busy to be routed',
      async () => (await send(router.port, { host: 'busy.localhost' })).status === 200,
    );
    // Whichever backend takes the held request, every request meanwhile goes to the other one.
    const held = send(router.port, { host: 'busy.localhost', path: '/slow?ms=1500' });
    const holder = await waitFor('the held request to arrive', () =>
      [slow, fast].find((b) => b.seen.some((s) => s.url === '/slow?ms=1500')),
    );
    const other = holder === slow ? fast : slow;
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send(router.port, { host: 'busy.localhost' })).body);
    assert.deepEqual(bodies, Array(6).fill(`${other.name} /`));
    assert.equal((await held).status, 200);
    await router.stop();
  });

  it('holds an instance to its hard limit: queues the next request, sheds beyond the queue, counts both', async () => {
    const router = await new RouterProcess(
      routerEnv(redis.url, {
        PAAS_ROUTER_WORKERS: '1',
        PAAS_ROUTER_QUEUE: '1',
        PAAS_ROUTER_QUEUE_WAIT_MS: '10000',
      }),
    ).ready();
    const only = await backend('only');
    await setAppRoutes(writer, 'capped', [], backends(only), undefined, undefined, false, { hardLimit: 1 });
    await waitFor(
      'capped to be routed',
      async () => (await send(router.port, { host: 'capped.localhost' })).status === 200,
    );
    // the first holds the only slot until the test lets it go
    const first = send(router.port, { host: 'capped.localhost', path: '/held' });
    await waitFor('the first at the backend', () => only.seen.some((s) => s.url === '/held'));
    const second = send(router.port, { host: 'capped.localhost', path: '/second' });
    const app = { app: 'capped' };
    // the second waits in the queue (of 1), counted in flight: the third is shed at once
    await waitFor('the second queued', async () => {
      const { families } = await router.prometheus();
      return sampleValue(families, 'paas_router_inflight', app) === 2;
    });
    const third = await send(router.port, { host: 'capped.localhost', path: '/third' });
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '1');
    assert.match(
      third.body,
      /capped has 1 requests in flight on each instance, its hard limit, and 1 more already wait/,
    );
    assert.equal(only.seen.filter((s) => s.url === '/second').length, 0, 'not before the first is done');
    only.release();
    assert.deepEqual([(await first).status, (await second).status, (await second).body], [200, 200, 'only /second']);
    await waitFor('the counts at /metrics', async () => {
      const { families } = await router.prometheus();
      const queued = sampleValue(families, 'paas_router_hard_limit_requests_total', { ...app, outcome: 'queued' });
      const shed = sampleValue(families, 'paas_router_hard_limit_requests_total', { ...app, outcome: 'shed' });
      return queued === 1 && shed === 1;
    });
    await router.stop();
  });

  it('on SIGTERM stops accepting, finishes requests in flight and exits 0', async () => {
    const router = await new RouterProcess(
      routerEnv(redis.url, { PAAS_ROUTER_WORKERS: '2', PAAS_ROUTER_ACCESS_LOG: 'off' }),
    ).ready();
    const b = await backend('d1');
    await setAppRoutes(writer, 'drain', [], backends(b));
    await waitFor(
      'drain to be routed',
      async () => (await send(router.port, { host: 'drain.localhost' })).status === 200,
    );
    const inflight = Array.from({ length: 4 }, () =>
      send(router.port, { host: 'drain.localhost', path: '/slow?ms=1500' }),
    );
    await waitFor(
      'the slow requests to reach the backend',
      () => b.seen.filter((s) => s.url.startsWith('/slow')).length === 4,
    );
    router.child.kill('SIGTERM');
    await waitFor('new connections to be refused', async () => {
      try {
        await send(router.port, { host: 'drain.localhost' });
        return false;
      } catch (err) {
        return /ECONNREFUSED/.test((err as Error).message);
      }
    });
    const answers = await Promise.all(inflight);
    assert.deepEqual(
      answers.map((a) => [a.status, a.body, a.headers.connection]),
      Array(4).fill([200, 'd1 /slow?ms=1500', 'close']),
    );
    const { code } = await router.exited;
    assert.equal(code, 0);
    assert.match(router.stderr, /SIGTERM: finishing in-flight requests/);
    assert.match(router.stderr, /proxy: stopped/);
    assert.equal(router.stdout, '', 'PAAS_ROUTER_ACCESS_LOG=off writes no access log');
    assert.deepEqual(router.workerPids(), []);
  });
});
