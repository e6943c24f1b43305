import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppRoute } from '@paas/platform/routes';
import { AppState, type BackendState, Routing, normalizeHost, requestTarget } from './routing';

function route(app: string, ports: number[], hosts: string[] = []): AppRoute {
  return {
    app,
    hosts,
    backends: ports.map((port, i) => ({ id: `web.${i + 1}`, address: `127.0.0.1:${port}` })),
    check: { type: 'tcp' },
  };
}

function appOf(routing: Routing, header: string): AppState {
  const found = routing.lookup(header);
  assert.equal(found.kind, 'app', `${header} should find an app`);
  return (found as { app: AppState }).app;
}

describe('Host headers', () => {
  it('strips the port and a trailing dot and lowers the case', () => {
    assert.equal(normalizeHost('Shop.LOCALHOST:8080'), 'shop.localhost');
    assert.equal(normalizeHost('shop.example.com.'), 'shop.example.com');
    assert.equal(normalizeHost('10.0.0.1:80'), '10.0.0.1');
    assert.equal(normalizeHost('[::1]:8080'), '[::1]');
    assert.equal(normalizeHost('[FD00::7]'), '[fd00::7]');
  });

  it('refuses what is not a host', () => {
    const bad = [
      undefined,
      '',
      'two words',
      'a..b',
      '-lead.example',
      'trail-.example',
      'host:port',
      'host:123456',
      '[::1',
      '[nothex]:80',
      '[::1]x',
      'a/b',
      'x'.repeat(64) + '.com',
      'a.'.repeat(150) + 'com',
      'ex\u00e4mple.com',
      'host\r\nx: y',
    ];
    for (const header of bad) assert.equal(normalizeHost(header), null, JSON.stringify(header));
  });
});

describe('request targets (RFC 9112 §3.2)', () => {
  const ok = (url: string, raw: string[], version = '1.1') => requestTarget(url, raw, version);

  it('takes the one Host header for origin-form and asterisk-form targets', () => {
    assert.deepEqual(ok('/a?b', ['Host', 'shop.localhost', 'X', 'y']), { kind: 'ok', host: 'shop.localhost' });
    assert.deepEqual(ok('*', ['host', 'shop.localhost']), { kind: 'ok', host: 'shop.localhost' });
    assert.deepEqual(ok('/', [], '1.0'), { kind: 'ok', host: undefined });
  });

  it('refuses more than one Host line, whatever their case or values, and none in HTTP/1.1', () => {
    for (const raw of [
      ['Host', 'a.localhost', 'Host', 'b.localhost'],
      ['host', 'a.localhost', 'X-Y', '1', 'HOST', 'a.localhost'],
      ['Host', 'a.localhost', 'hOsT', ''],
    ]) {
      assert.deepEqual(ok('/', raw), { kind: 'bad', reason: 'The request has more than one Host header.' });
      assert.equal(ok('http://a.localhost/', raw).kind, 'bad');
    }
    assert.deepEqual(ok('/', ['Hosts', 'a.localhost']), { kind: 'bad', reason: 'The request has no Host header.' });
  });

  it('routes an absolute-form target by its authority and forwards origin-form', () => {
    const host = ['Host', 'other.localhost'];
    assert.deepEqual(ok('http://shop.localhost/p?q=1', host), { kind: 'ok', host: 'shop.localhost', url: '/p?q=1' });
    assert.deepEqual(ok('HTTPS://Shop.localhost:8443', host), { kind: 'ok', host: 'Shop.localhost:8443', url: '/' });
    assert.deepEqual(ok('http://shop.localhost?x', host), { kind: 'ok', host: 'shop.localhost', url: '/?x' });
    assert.deepEqual(ok('http://shop.localhost/', [], '1.0'), { kind: 'ok', host: 'shop.localhost', url: '/' });
  });

  it('refuses absolute-form targets it cannot route safely, saying why', () => {
    const host = ['Host', 'shop.localhost'];
    assert.match(String(Object(ok('http://a@shop.localhost/', host)).reason), /userinfo/);
    assert.match(String(Object(ok('http:///x', host)).reason), /no authority/);
    for (const url of ['ftp://shop.localhost/', 'http:shop.localhost', 'shop.localhost/', 'http://a/#frag']) {
      assert.match(String(Object(ok(url, host)).reason), /neither a path nor an http\(s\) URL/, url);
    }
    assert.deepEqual(ok('http://shop.localhost/', ['Host', 'not a host']), {
      kind: 'bad',
      reason: 'The Host header is not a host name.',
    });
  });
});

describe('routing table', () => {
  it('finds APP.<domain> and custom hosts, and nothing else', () => {
    const routing = new Routing('apps.test');
    routing.setRoutes([route('shop', [5001], ['shop.example.com']), route('blog', [5002])], 1);
    assert.equal(appOf(routing, 'shop.apps.test').name, 'shop');
    assert.equal(appOf(routing, 'SHOP.Example.com:8080').name, 'shop');
    assert.equal(appOf(routing, 'blog.apps.test.').name, 'blog');
    assert.deepEqual(routing.lookup('other.apps.test'), { kind: 'unknown', host: 'other.apps.test' });
    assert.deepEqual(routing.lookup('x.shop.apps.test'), { kind: 'unknown', host: 'x.shop.apps.test' });
    assert.deepEqual(routing.lookup('apps.test'), { kind: 'unknown', host: 'apps.test' });
    assert.deepEqual(routing.lookup('bad host'), { kind: 'bad-host' });
  });

  it('follows table changes (no stale cached lookups)', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('shop', [5001])], 1);
    assert.equal(routing.lookup('shop.localhost').kind, 'app');
    routing.setRoutes([route('blog', [5002], ['shop.localhost.example'])], 2);
    assert.equal(routing.lookup('shop.localhost').kind, 'unknown');
    assert.equal(appOf(routing, 'shop.localhost.example').name, 'blog');
    assert.equal(routing.version, 2);
  });

  it('lets one app keep a contested host and no app take a name under the domain', () => {
    const routing = new Routing('localhost');
    const problems = routing.setRoutes(
      [
        route('zeta', [1], ['www.example.com', 'alpha.localhost']),
        route('alpha', [2], ['www.example.com', 'alpha.localhost']),
        route('beta', [3], ['localhost']),
      ],
      1,
    );
    assert.equal(appOf(routing, 'www.example.com').name, 'alpha');
    assert.equal(appOf(routing, 'alpha.localhost').name, 'alpha');
    assert.equal(routing.lookup('localhost').kind, 'unknown');
    assert.deepEqual(problems.sort(), [
      'app beta cannot claim localhost: names under localhost belong to the apps so named',
      'app zeta cannot claim alpha.localhost: names under localhost belong to the apps so named',
      'host www.example.com is claimed by apps alpha and zeta; alpha keeps it',
    ]);
  });
});

describe('backend choice', () => {
  const now = 1_000_000;

  it('goes round-robin while no backend is busy', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('shop', [1, 2, 3])], 1);
    const app = appOf(routing, 'shop.localhost');
    const ids = Array.from({ length: 6 }, () => routing.pick(app, now)?.id);
    assert.deepEqual(ids, ['web.1', 'web.2', 'web.3', 'web.1', 'web.2', 'web.3']);
  });

  it('prefers the backend with the fewest requests in flight', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('shop', [1, 2, 3])], 1);
    const app = appOf(routing, 'shop.localhost');
    const [a, b, c] = app.backends as BackendState[];
    assert.ok(a && b && c);
    a.inflight = 5;
    b.inflight = 1;
    c.inflight = 2;
    assert.equal(routing.pick(app, now), b);
    b.inflight = 3;
    assert.equal(routing.pick(app, now), c);
    // Ties among the least busy rotate.
    a.inflight = 0;
    b.inflight = 0;
    c.inflight = 9;
    const picks = Array.from({ length: 4 }, () => routing.pick(app, now)?.id);
    assert.deepEqual(picks.sort(), ['web.1', 'web.1', 'web.2', 'web.2']);
  });

  it('skips backends that fail active checks or are cooling down, and the ones excluded', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('shop', [1, 2, 3])], 1, ['127.0.0.1:1']);
    const app = appOf(routing, 'shop.localhost');
    const [a, b, c] = app.backends as BackendState[];
    assert.ok(a && b && c);
    assert.equal(a.healthy, false, 'down as the primary said');
    routing.coolDown(b, now + 5000);
    assert.equal(routing.pick(app, now), c);
    assert.equal(routing.pick(app, now), c);
    assert.equal(routing.pick(app, now, [c]), b, 'all healthy ones cool: the cool-down gives way');
    assert.equal(routing.pick(app, now + 5001, [c]), b);
    routing.setHealth('127.0.0.1:2', false);
    routing.setHealth('127.0.0.1:3', false);
    assert.equal(routing.pick(app, now), undefined);
    routing.setHealth('127.0.0.1:1', true);
    assert.equal(routing.pick(app, now), a);
  });

  it('never picks a backend at the hard limit, and says when only the limit stands in the way', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([{ ...route('shop', [1, 2]), hardLimit: 2 }], 1);
    const app = appOf(routing, 'shop.localhost');
    const [a, b] = app.backends as BackendState[];
    assert.ok(a && b);
    assert.equal(app.hardLimit, 2);
    a.inflight = 2;
    b.inflight = 1;
    assert.equal(routing.pick(app, now), b);
    assert.equal(routing.full(app, now), false);
    b.inflight = 2;
    assert.equal(routing.pick(app, now), undefined);
    assert.equal(routing.full(app, now), true, 'both at the limit: wait for one');
    // a cooling backend is still one to wait for; one that fails its checks is not
    routing.coolDown(a, now + 5000);
    assert.equal(routing.full(app, now), true);
    routing.setHealth('127.0.0.1:1', false);
    routing.setHealth('127.0.0.1:2', false);
    assert.equal(routing.full(app, now), false, 'no healthy backend: nothing to wait for');
    // without a limit, busy is never full
    routing.setRoutes([route('shop', [1, 2])], 2, []);
    const free = appOf(routing, 'shop.localhost');
    assert.equal(routing.pick(free, now)?.inflight, 2);
    assert.equal(routing.full(free, now), false);
  });

  it('waits for a backend merely at the hard limit rather than fall back on one cooling down', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([{ ...route('shop', [1, 2]), hardLimit: 1 }], 1);
    const app = appOf(routing, 'shop.localhost');
    const [busy, refused] = app.backends as BackendState[];
    assert.ok(busy && refused);
    busy.inflight = 1;
    routing.coolDown(refused, now + 5000);
    assert.equal(routing.pick(app, now), undefined, 'not the backend that refused');
    assert.equal(routing.full(app, now), true, 'the request waits for the busy one');
    // a retry that was refused by the busy one has only the cooling one to wait for
    assert.equal(routing.full(app, now, [busy]), false);
    // below the limit, every healthy backend cooling: the cool-down is ignored as before
    busy.inflight = 0;
    routing.coolDown(busy, now + 5000);
    assert.ok(routing.pick(app, now));
    // at the limit and cooling: no better than the other cooling one
    busy.inflight = 1;
    assert.equal(routing.pick(app, now), refused);
  });

  it('looks no further than the first idle backend, with many backends', () => {
    const routing = new Routing('localhost');
    routing.setRoutes(
      [
        route(
          'big',
          Array.from({ length: 1000 }, (_, i) => 2000 + i),
        ),
      ],
      1,
    );
    const app = appOf(routing, 'big.localhost');
    let looked = 0;
    const counted = new Proxy(app.backends as BackendState[], {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) looked++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const big = new AppState(app.name, app.hosts, counted, app.check);
    for (const b of app.backends.slice(0, 10)) b.inflight = 1;
    const picked = routing.pick(big, Date.now());
    assert.equal(picked?.id, 'web.11', 'the first idle one, in round-robin order');
    assert.ok(looked <= 11, `looked at ${looked} backends`);
    looked = 0;
    assert.equal(routing.pick(big, Date.now())?.id, 'web.12');
    assert.equal(looked, 1);
  });

  it('has nothing to pick for an app without backends', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('empty', [])], 1);
    assert.equal(routing.pick(appOf(routing, 'empty.localhost'), now), undefined);
  });

  it('keeps in-flight counts and health across table changes', () => {
    const routing = new Routing('localhost');
    routing.setRoutes([route('shop', [1, 2])], 1);
    const first = appOf(routing, 'shop.localhost').backends[0] as BackendState;
    first.inflight = 4;
    routing.setHealth('127.0.0.1:2', false);
    routing.setRoutes([route('shop', [1, 2, 3])], 2);
    const app = appOf(routing, 'shop.localhost');
    assert.equal(app.backends[0], first);
    assert.equal(app.backends[0]?.inflight, 4);
    assert.equal(app.backends[1]?.healthy, false);
    assert.equal(routing.pick(app, now)?.id, 'web.3');
  });
});
