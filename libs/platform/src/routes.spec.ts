import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { connectRedis } from './redis';
import { type LocalRedis, startLocalRedis } from './redis-server';
import { waitFor } from './testing/wait';
import {
  type AppRoute,
  type RouteChange,
  ROUTES_CHANNEL,
  ROUTES_KEY,
  ROUTES_VERSION_KEY,
  RouteWatcher,
  parseAddress,
  parseAppRoute,
  parseRouteMessage,
  publishRouterMetrics,
  readAppRoute,
  readRouteTable,
  readRouterMetrics,
  removeAppRoutes,
  rebuildRoutes,
  setAppRoutes,
  validateRoute,
} from './routes';

describe('route entries', () => {
  it('splits IPv4 and IPv6 backend addresses and rejects anything else', () => {
    assert.deepEqual(parseAddress('10.88.0.5:5000'), { host: '10.88.0.5', port: 5000 });
    assert.deepEqual(parseAddress('[fd00::7]:80'), { host: 'fd00::7', port: 80 });
    for (const bad of ['10.88.0.5', 'localhost:80', '999.1.1.1:80', '1.2.3.4:0', '1.2.3.4:70000', '[zz]:1', '::1:80']) {
      assert.equal(parseAddress(bad), null, bad);
    }
  });

  it('normalizes hosts and fills in a TCP check', () => {
    const route = validateRoute({
      app: 'shop',
      hosts: ['Shop.Example.COM.', 'shop.example.com'],
      backends: [{ id: 'web.1', address: '127.0.0.1:5000' }],
    });
    assert.deepEqual(route, {
      app: 'shop',
      hosts: ['shop.example.com'],
      backends: [{ id: 'web.1', address: '127.0.0.1:5000' }],
      check: { type: 'tcp' },
    });
    assert.deepEqual(validateRoute({ app: 'a', check: { type: 'http', path: '/health?x=1' } }).check, {
      type: 'http',
      path: '/health?x=1',
    });
  });

  it('says which app and which field is wrong', () => {
    const cases: Array<[Parameters<typeof validateRoute>[0], RegExp]> = [
      [{ app: 'Bad_Name' }, /route of app "Bad_Name": the app name is not a DNS label/],
      [{ app: 'a', hosts: 'x.com' }, /route of app "a": hosts "x.com" is not an array/],
      [{ app: 'a', hosts: ['ok.com', 'no spaces.com'] }, /hosts\[1\] "no spaces.com" is not a host name/],
      [{ app: 'a', backends: [{ id: '', address: '1.2.3.4:5' }] }, /backends\[0\]\.id "" is not a string/],
      [{ app: 'a', backends: [{ id: 'x', address: 'nowhere' }] }, /backends\[0\]\.address "nowhere" is not IPV4:PORT/],
      [
        {
          app: 'a',
          backends: [
            { id: 'x', address: '1.2.3.4:5' },
            { id: 'y', address: '1.2.3.4:5' },
          ],
        },
        /backends\[1\]\.address 1\.2\.3\.4:5 is listed twice/,
      ],
      [{ app: 'a', check: { type: 'udp' } }, /check\.type "udp" is neither/],
      [{ app: 'a', check: { type: 'http', path: 'health' } }, /check\.path "health" must start with \//],
      [{ app: 'a', check: { type: 'http', path: '/a b' } }, /check\.path/],
      [{ app: 'a', https: true }, /route of app "a": https true is not an object/],
      [{ app: 'a', https: { redirect: 'yes', hstsMaxAge: null } }, /https\.redirect "yes" is not a boolean/],
      [{ app: 'a', https: { redirect: true } }, /https\.hstsMaxAge undefined is neither null nor whole seconds/],
      [{ app: 'a', https: { redirect: false, hstsMaxAge: -1 } }, /https\.hstsMaxAge -1/],
      [{ app: 'a', https: { redirect: false, hstsMaxAge: 1.5 } }, /https\.hstsMaxAge 1\.5/],
      [{ app: 'a', maintenance: 'on' }, /route of app "a": maintenance "on" is not a boolean/],
      [{ app: 'a', maintenance: 1 }, /route of app "a": maintenance 1 is not a boolean/],
      [{ app: 'a', maintenance: {} }, /route of app "a": maintenance \{\} is not a boolean/],
      [{ app: 'a', sleeping: 'yes' }, /route of app "a": sleeping "yes" is not a boolean/],
      [{ app: 'a', sleeping: true, wakeRetryAt: -1 }, /wakeRetryAt -1 is not a time in ms since the epoch/],
      [{ app: 'a', sleeping: true, wakeRetryAt: '1' }, /wakeRetryAt "1" is not a time/],
      [{ app: 'a', hardLimit: 0 }, /route of app "a": hardLimit 0 is not a whole number from 1 to 10000/],
      [{ app: 'a', hardLimit: 2.5 }, /hardLimit 2\.5 is not a whole number/],
      [{ app: 'a', hardLimit: '25' }, /hardLimit "25" is not a whole number/],
      [{ app: 'a', hardLimit: 10_001 }, /hardLimit 10001 is not a whole number from 1 to 10000/],
    ];
    for (const [input, message] of cases) assert.throws(() => validateRoute(input), message);
  });

  it('keeps the HTTPS settings of an app when given, and leaves them out (both off) when not', () => {
    const https = { redirect: true, hstsMaxAge: 31_536_000 };
    assert.deepEqual(validateRoute({ app: 'a', https }).https, https);
    assert.deepEqual(validateRoute({ app: 'a', https: { redirect: false, hstsMaxAge: null } }).https, {
      redirect: false,
      hstsMaxAge: null,
    });
    assert.equal('https' in validateRoute({ app: 'a' }), false);
    assert.deepEqual(parseAppRoute('a', JSON.stringify({ app: 'a', https })).https, https);
  });

  it('keeps maintenance when on, and leaves it out when off or absent', () => {
    assert.equal(validateRoute({ app: 'a', maintenance: true }).maintenance, true);
    for (const off of [false, null, undefined]) {
      assert.equal('maintenance' in validateRoute({ app: 'a', maintenance: off }), false, String(off));
    }
    assert.equal(parseAppRoute('a', '{"app":"a","maintenance":true}').maintenance, true);
    assert.throws(() => parseAppRoute('a', '{"app":"a","maintenance":"yes"}'), /maintenance "yes" is not a boolean/);
  });

  it("keeps sleeping and a failed wake's retry time when sleeping, and leaves them out otherwise", () => {
    const asleep = validateRoute({ app: 'a', sleeping: true, wakeRetryAt: 1_765_000_000_000 });
    assert.deepEqual([asleep.sleeping, asleep.wakeRetryAt], [true, 1_765_000_000_000]);
    const awake = validateRoute({ app: 'a', sleeping: false, wakeRetryAt: 5 });
    assert.equal('sleeping' in awake || 'wakeRetryAt' in awake, false);
    assert.equal(parseAppRoute('a', '{"app":"a","sleeping":true}').sleeping, true);
  });

  it('keeps a hard limit when set, and leaves it out when absent', () => {
    assert.equal(validateRoute({ app: 'a', hardLimit: 25 }).hardLimit, 25);
    for (const off of [null, undefined])
      assert.equal('hardLimit' in validateRoute({ app: 'a', hardLimit: off }), false);
    assert.equal(parseAppRoute('a', '{"app":"a","hardLimit":3}').hardLimit, 3);
    assert.throws(() => parseAppRoute('a', '{"app":"a","hardLimit":-3}'), /hardLimit -3 is not a whole number/);
  });

  it('rejects stored entries that are not JSON, not objects or name another app', () => {
    assert.throws(() => parseAppRoute('a', '{nope'), /route of app "a": paas:routes holds "\{nope", which is not JSON/);
    assert.throws(() => parseAppRoute('a', '[1]'), /which is not an object/);
    assert.throws(() => parseAppRoute('a', '{"app":"b"}'), /the entry names app "b"/);
    assert.equal(parseAppRoute('a', '{"app":"a"}').app, 'a');
  });

  it('reads change messages and refuses anything else', () => {
    assert.deepEqual(parseRouteMessage('{"version":3,"app":"shop"}'), { version: 3, app: 'shop' });
    for (const bad of ['', 'garbage', '{"version":"3","app":"shop"}', '{"version":0,"app":"a"}', '{"version":1}']) {
      assert.equal(parseRouteMessage(bad), null, bad);
    }
  });
});

describe('the route table on a real redis-server', () => {
  let dir: string;
  let server: LocalRedis;
  let redis: Redis;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = connectRedis(server.url);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-routes-'));
    server = await startLocalRedis(dir);
    redis = client();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await redis.flushall();
  });

  it('writes, versions and announces every change in order', async () => {
    const subscriber = client();
    const messages: string[] = [];
    subscriber.on('message', (_channel, text: string) => messages.push(text));
    await subscriber.subscribe(ROUTES_CHANNEL);

    assert.equal(
      await setAppRoutes(redis, 'shop', ['shop.example.com'], [{ id: 'web.1', address: '10.0.0.1:5000' }]),
      1,
    );
    assert.equal(
      await setAppRoutes(
        redis,
        'blog',
        [],
        [],
        { type: 'http', path: '/up' },
        { redirect: true, hstsMaxAge: 60 },
        true,
      ),
      2,
    );
    assert.equal(await removeAppRoutes(redis, 'shop'), 3);
    assert.equal(await removeAppRoutes(redis, 'shop'), null, 'removing an absent app changes nothing');
    assert.equal(await redis.get(ROUTES_VERSION_KEY), '3');

    const table = await readRouteTable(redis);
    assert.equal(table.version, 3);
    assert.deepEqual([...table.routes.keys()], ['blog']);
    assert.deepEqual(table.routes.get('blog')?.check, { type: 'http', path: '/up' });
    assert.deepEqual(table.routes.get('blog')?.https, { redirect: true, hstsMaxAge: 60 });
    assert.equal(table.routes.get('blog')?.maintenance, true);
    await waitFor(() => messages.length === 3, 'three messages');
    assert.deepEqual(
      messages.map((m) => JSON.parse(m)),
      [
        { version: 1, app: 'shop' },
        { version: 2, app: 'blog' },
        { version: 3, app: 'shop' },
      ],
    );
  });

  it('refuses to write an invalid route and leaves the table alone', async () => {
    await assert.rejects(
      setAppRoutes(redis, 'shop', [], [{ id: 'w', address: 'localhost:80' }]),
      /backends\[0\]\.address/,
    );
    await assert.rejects(removeAppRoutes(redis, '../x'), /app name/);
    assert.equal(await redis.exists(ROUTES_KEY, ROUTES_VERSION_KEY), 0);
  });

  it('skips garbage entries and reports them, keeping the rest', async () => {
    await setAppRoutes(redis, 'good', [], [{ id: 'w', address: '127.0.0.1:1' }]);
    await redis.hset(
      ROUTES_KEY,
      'bad',
      '{"app":"bad","backends":"all of them"}',
      'worse',
      '\u0000\u0001',
      'Nope',
      '{}',
    );
    const table = await readRouteTable(redis);
    assert.deepEqual([...table.routes.keys()], ['good']);
    const invalid = new Map(table.invalid.map((i) => [i.app, i.error]));
    assert.deepEqual([...invalid.keys()].sort(), ['Nope', 'bad', 'worse']);
    assert.match(invalid.get('bad') ?? '', /backends "all of them" is not an array/);
    assert.match(invalid.get('worse') ?? '', /is not JSON/);
    assert.match(invalid.get('Nope') ?? '', /the app name is not/);
    const one = await readAppRoute(redis, 'bad');
    assert.equal(one.route, null);
    assert.match(one.error ?? '', /not an array/);
  });

  it('keeps a watcher in step: single changes, gaps, a lost message, garbage and a reset', async () => {
    const changes: RouteChange[] = [];
    const problems: string[] = [];
    let seen: ReadonlyMap<string, AppRoute> = new Map();
    await setAppRoutes(redis, 'one', [], [{ id: 'w', address: '127.0.0.1:1001' }]);
    // The periodic check is the test's to run (`check()`): one that read a version before its
    // message came would make these steps race with it.
    const watcher = new RouteWatcher({
      reader: client(),
      subscriber: client(),
      resyncMs: 3_600_000,
      holdOlderMs: 600,
      onChange: (routes, change) => {
        seen = routes;
        changes.push(change);
      },
      onProblem: (message) => problems.push(message),
    });
    await watcher.start();
    try {
      assert.equal(watcher.version, 1);
      assert.deepEqual(changes, [{ version: 1, apps: 'all' }]);
      assert.deepEqual([...seen.keys()], ['one']);

      // One change: only that app is read.
      await setAppRoutes(redis, 'two', ['two.example.com'], []);
      await waitFor(() => watcher.version === 2, 'version 2');
      assert.deepEqual(changes.at(-1), { version: 2, apps: ['two'] });
      assert.deepEqual(seen.get('two')?.hosts, ['two.example.com']);

      await removeAppRoutes(redis, 'one');
      await waitFor(() => watcher.version === 3, 'version 3');
      assert.equal(seen.has('one'), false);

      // A change whose message never came (written without publishing), then one that did:
      // the gap makes the watcher reload everything.
      await redis.hset(ROUTES_KEY, 'three', JSON.stringify({ app: 'three' }));
      await redis.incr(ROUTES_VERSION_KEY);
      await setAppRoutes(redis, 'four', [], []);
      await waitFor(() => watcher.version === 5, 'version 5');
      assert.deepEqual([...seen.keys()].sort(), ['four', 'three', 'two']);
      assert.ok(changes.some((c) => c.version === 5 && c.apps === 'all'));

      // A lost message with nothing after it: the periodic version check finds it.
      await redis.hdel(ROUTES_KEY, 'three');
      await redis.incr(ROUTES_VERSION_KEY);
      await sleep(100);
      assert.equal(watcher.version, 5, 'no message, no change until the check');
      await watcher.check();
      assert.equal(watcher.version, 6);
      assert.equal(seen.has('three'), false);

      // Garbage on the channel and in the table is reported, never fatal.
      await redis.publish(ROUTES_CHANNEL, 'not json at all');
      await waitFor(() => problems.some((p) => /ignored a message that is not/.test(p)), 'the garbage reported');
      await redis.hset(ROUTES_KEY, 'broken', 'xx');
      await redis.incr(ROUTES_VERSION_KEY);
      await watcher.check();
      assert.equal(watcher.version, 7);
      assert.ok(problems.some((p) => /ignored a message that is not/.test(p)));
      assert.ok(problems.some((p) => /skipped app "broken"/.test(p)));
      assert.deepEqual([...seen.keys()].sort(), ['four', 'two']);

      // Redis restarted empty: the watcher keeps serving what it has (nothing was removed),
      // says so once, and takes the table the control plane writes again, whole.
      await redis.flushall();
      for (let i = 0; i < 3; i++) await watcher.check(); // several periodic checks
      assert.equal(watcher.version, 7);
      assert.deepEqual([...seen.keys()].sort(), ['four', 'two']);
      assert.equal(problems.filter((p) => /is empty at version 0, older than 7/.test(p)).length, 1);
      // the writer rebuilds it past the version it wrote last (7), so readers take it at once
      const rebuilt = await rebuildRoutes(
        redis,
        [
          { app: 'fresh', hosts: [], backends: [], check: { type: 'tcp' } },
          {
            app: 'two',
            hosts: ['two.example.com'],
            backends: [{ id: 'web.1', address: '127.0.0.1:1002' }],
            check: { type: 'tcp' },
          },
        ],
        7,
      );
      assert.equal(rebuilt, 9);
      await waitFor(() => watcher.version === 9, 'the rebuilt table');
      assert.deepEqual([...seen.keys()].sort(), ['fresh', 'two']);
      assert.deepEqual(changes.at(-1), { version: 9, apps: 'all' });

      // Versions go on from there and the watcher follows them one by one.
      await setAppRoutes(redis, 'later', [], []);
      await waitFor(() => watcher.version === 10, 'version 10');
      assert.deepEqual(changes.at(-1), { version: 10, apps: ['later'] });

      // Redis came back from an older snapshot (the last second's writes lost): its table is
      // not empty but names what may be gone. The watcher keeps its own for a while, and takes
      // a rebuild past it at once...
      const before = problems.length;
      await redis.set(ROUTES_VERSION_KEY, '8');
      await redis.hdel(ROUTES_KEY, 'later');
      for (let i = 0; i < 3; i++) await watcher.check();
      assert.equal(watcher.version, 10, 'held: the older table is not served');
      assert.ok(seen.has('later'));
      assert.equal(problems.slice(before).filter((p) => /is older at version 8, older than 10/.test(p)).length, 1);
      await rebuildRoutes(redis, [{ app: 'fresh', hosts: [], backends: [], check: { type: 'tcp' } }], 10);
      await waitFor(() => watcher.version === 12, 'the rebuild past it');
      assert.deepEqual([...seen.keys()], ['fresh']);
      // ...or, when no writer rebuilds it (one that never saw the lost writes), the older table
      // once the hold is over: the control plane writes on from it
      await redis.set(ROUTES_VERSION_KEY, '11');
      await redis.hset(ROUTES_KEY, 'older', JSON.stringify({ app: 'older' }));
      await watcher.check();
      assert.equal(watcher.version, 12);
      await sleep(700); // the hold (600 ms)
      await watcher.check();
      assert.equal(watcher.version, 11, 'the older table after the hold');
      assert.deepEqual([...seen.keys()].sort(), ['fresh', 'older']);

      // held again (Redis older), a writer that never saw the lost versions writes on and
      // passes ours by one: its table is taken whole, not its one entry on top of ours
      await redis.set(ROUTES_VERSION_KEY, '5');
      await redis.hdel(ROUTES_KEY, 'fresh');
      await watcher.check();
      assert.equal(watcher.version, 11, 'held');
      await redis.set(ROUTES_VERSION_KEY, '11');
      await setAppRoutes(redis, 'newest', [], []);
      await waitFor(() => watcher.version === 12, 'version 12');
      assert.deepEqual([...seen.keys()].sort(), ['newest', 'older'], 'fresh is gone from Redis, so from the router');
    } finally {
      await watcher.stop();
    }
  });

  it('publishes router metrics and drops stale ones', async () => {
    const status = { '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0 };
    const apps = { shop: { requests: 1, requestsPerSecond: 0.2, inflight: 0, status, bytes: 5 } };
    await publishRouterMetrics(redis, { router: 'r1', time: 1_000_000, apps });
    await publishRouterMetrics(redis, { router: 'r2', time: 1_009_000, apps });
    await redis.hset('paas:router-metrics', 'r3', 'junk');
    const fresh = await readRouterMetrics(redis, 5_000, 1_010_000);
    assert.deepEqual(
      fresh.map((m) => m.router),
      ['r2'],
    );
    assert.deepEqual(fresh[0]?.apps, apps);
    assert.deepEqual(await redis.hkeys('paas:router-metrics'), ['r2']);
  });
});
