/**
 * Request smuggling and host confusion against the real router: the
 * bundle with two workers, a real redis-server for the table and real backends on
 * 127.0.0.1, spoken to over raw TCP the way an attacker would. Each request names two apps,
 * `victim` and `attacker`, in some ambiguous way; the router must either route it by the
 * one rule RFC 9112 gives, or answer 400 — never let the backend of the other app see it,
 * never leave bytes behind that a backend would read as a second request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { connectRedis, setAppRoutes } from '@paas/platform/routes';
import {
  type Backend,
  RouterProcess,
  backend,
  cleanup,
  ensureBuilt,
  raw,
  redisServer,
  routerEnv,
  send,
  waitFor,
  websocket,
} from '../proxy/support';

/** The status code of the first response in a raw answer (0 when there is none). */
function status(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
}

/** How many responses a raw answer holds. */
function responses(answer: string): number {
  return answer.match(/(^|\r\n)HTTP\/1\.1 \d{3} /g)?.length ?? 0;
}

describe('security: the router and ambiguous requests', () => {
  let writer: Redis;
  let router: RouterProcess;
  let victim: Backend;
  let attacker: Backend;

  /** Every request either backend saw, as "NAME URL". */
  const seen = (): string[] => [
    ...victim.seen.filter((s) => s.url !== '/health').map((s) => `victim ${s.url}`),
    ...attacker.seen.filter((s) => s.url !== '/health').map((s) => `attacker ${s.url}`),
  ];
  const forget = (): void => {
    victim.seen.length = 0;
    attacker.seen.length = 0;
  };

  before(async () => {
    ensureBuilt();
    const redis = await redisServer();
    writer = connectRedis(redis.url);
    router = await new RouterProcess(routerEnv(redis.url, { PAAS_ROUTER_WORKERS: '2' })).ready();
    victim = await backend('victim');
    attacker = await backend('attacker');
    await setAppRoutes(writer, 'victim', ['victim.example.test'], [{ id: 'web.1', address: victim.address }]);
    await setAppRoutes(writer, 'attacker', [], [{ id: 'web.1', address: attacker.address }]);
    await waitFor('both apps to be routed', async () => {
      for (let i = 0; i < 4; i++) {
        if ((await send(router.port, { host: 'victim.localhost' })).status !== 200) return false;
        if ((await send(router.port, { host: 'attacker.localhost' })).status !== 200) return false;
      }
      return true;
    });
  });

  after(async () => {
    writer?.disconnect();
    await cleanup();
  });

  it('answers 400 to two Host headers, in any case and order, and reaches no backend', async () => {
    const variants = [
      'Host: attacker.localhost\r\nHost: victim.localhost\r\n',
      'Host: victim.localhost\r\nHost: attacker.localhost\r\n',
      'host: attacker.localhost\r\nHOST: attacker.localhost\r\n', // even when both agree
      'Host: attacker.localhost\r\nX-Other: 1\r\nhOsT: victim.localhost\r\n',
    ];
    for (const hosts of variants) {
      forget();
      const answer = await raw(router.port, `GET /two HTTP/1.1\r\n${hosts}Connection: close\r\n\r\n`);
      assert.equal(status(answer), 400, `${JSON.stringify(hosts)}:\n${answer}`);
      assert.match(answer, /more than one Host header/);
      assert.deepEqual(seen(), [], JSON.stringify(hosts));
    }
  });

  it('answers 400 to a Host that is not host[:port]', async () => {
    const bad = [
      'victim.localhost attacker.localhost',
      'victim.localhost/x',
      'attacker.localhost@victim.localhost',
      'victim.localhost:80:80',
      'victim.localhost:http',
      '',
      `${'a'.repeat(60)}.`.repeat(6) + 'localhost', // longer than a DNS name can be
    ];
    for (const host of bad) {
      forget();
      const answer = await raw(router.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(status(answer), 400, `${JSON.stringify(host)}:\n${answer}`);
      assert.deepEqual(seen(), [], JSON.stringify(host));
    }
    // Node's parser refuses a NUL or a bare CR inside a header value before the router sees it.
    for (const host of ['victim.localhost\0attacker', 'victim.localhost\rX: y']) {
      const answer = await raw(router.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(status(answer), 400, `${JSON.stringify(host)}:\n${answer}`);
    }
    // A Host so long it overflows the header limit is a 431.
    const huge = await raw(router.port, `GET / HTTP/1.1\r\nHost: ${'a'.repeat(20_000)}.localhost\r\n\r\n`);
    assert.equal(status(huge), 431);
    assert.deepEqual(seen(), []);
  });

  it('routes upper case, a trailing dot and a port to the same app as the plain name', async () => {
    for (const host of ['VICTIM.LOCALHOST', 'victim.localhost.', 'Victim.Localhost.:8080', 'VICTIM.example.TEST.']) {
      forget();
      const answer = await raw(router.port, `GET /same HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(status(answer), 200, `${host}:\n${answer}`);
      assert.deepEqual(seen(), ['victim /same'], host);
    }
  });

  it('routes an absolute-form target by its authority and forwards origin-form', async () => {
    const cases: Array<[string, string, string]> = [
      ['http://victim.localhost/abs?q=1', 'attacker.localhost', 'victim /abs?q=1'],
      ['http://VICTIM.example.test:8080/p', 'victim.example.test', 'victim /p'],
      ['HTTP://attacker.localhost', 'victim.localhost', 'attacker /'],
      ['http://attacker.localhost?x=1', 'victim.localhost', 'attacker /?x=1'],
    ];
    for (const [target, host, expected] of cases) {
      forget();
      const answer = await raw(router.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(status(answer), 200, `${target}:\n${answer}`);
      assert.deepEqual(seen(), [expected], target);
      const [name] = expected.split(' ');
      const forwarded = (name === 'victim' ? victim : attacker).seen.at(-1)?.headers;
      // The backend sees the authority the request was routed by, in Host and X-Forwarded-Host.
      const authority = /^\w+:\/\/([^/?]*)/.exec(target)?.[1];
      assert.equal(forwarded?.host, authority, target);
      assert.equal(forwarded?.['x-forwarded-host'], authority, target);
    }
  });

  it('answers 400 to an absolute-form target it cannot route safely', async () => {
    const bad = [
      'http://attacker.localhost@victim.localhost/', // userinfo
      'http://victim.localhost:80@attacker.localhost/',
      'http:///path', // no authority
      'http://victim.localhost:x/',
      'ftp://victim.localhost/',
      'http:victim.localhost/',
      'victim.localhost/',
    ];
    for (const target of bad) {
      forget();
      const answer = await raw(
        router.port,
        `GET ${target} HTTP/1.1\r\nHost: victim.localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status(answer), 400, `${target}:\n${answer}`);
      assert.deepEqual(seen(), [], target);
    }
    // Two Host headers are refused even beside an absolute-form target.
    const two = await raw(
      router.port,
      'GET http://victim.localhost/ HTTP/1.1\r\nHost: victim.localhost\r\nHost: attacker.localhost\r\nConnection: close\r\n\r\n',
    );
    assert.equal(status(two), 400);
    assert.deepEqual(seen(), []);
  });

  it('routes websocket upgrades by the same rules', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const upgrade = (target: string, hosts: string): string =>
      `GET ${target} HTTP/1.1\r\n${hosts}Connection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`;
    forget();
    const two = await raw(router.port, upgrade('/ws', 'Host: attacker.localhost\r\nHost: victim.localhost\r\n'));
    assert.equal(status(two), 400, two);
    assert.deepEqual(seen(), []);

    // The raw socket stays open after a 101; read just the handshake.
    const socket = await import('node:net').then(({ connect }) => connect(router.port, '127.0.0.1'));
    try {
      let answer = '';
      socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
      socket.write(upgrade('http://victim.localhost/ws?x=1', 'Host: attacker.localhost\r\n'));
      await waitFor('the upgrade answer', () => answer.includes('\r\n\r\n'));
      assert.equal(status(answer), 101, answer);
      assert.deepEqual(seen(), ['victim /ws?x=1']);
    } finally {
      socket.destroy();
    }
    forget();
    const userinfo = await raw(router.port, upgrade('http://a@victim.localhost/ws', 'Host: victim.localhost\r\n'));
    assert.equal(status(userinfo), 400, userinfo);
    // A plain upgrade still works.
    const ws = await websocket(router.port, 'VICTIM.localhost.');
    assert.equal(ws.status, 101);
    assert.equal(await ws.say('hi'), 'echo: hi');
    ws.close();
  });

  it('refuses the framing tricks of request smuggling before any backend reads a byte', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: attacker.localhost\r\n\r\n';
    const variants: Array<[string, string]> = [
      [
        'Content-Length with Transfer-Encoding',
        `POST /cl-te HTTP/1.1\r\nHost: victim.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'Transfer-Encoding with Content-Length',
        `POST /te-cl HTTP/1.1\r\nHost: victim.localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'two different Content-Lengths',
        `POST /cl-cl HTTP/1.1\r\nHost: victim.localhost\r\nContent-Length: 0\r\nContent-Length: 50\r\n\r\n${smuggled}`,
      ],
      [
        'a Transfer-Encoding that does not end in chunked',
        `POST /te HTTP/1.1\r\nHost: victim.localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'an obfuscated Transfer-Encoding',
        `POST /te2 HTTP/1.1\r\nHost: victim.localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      ['obs-fold in Host', `GET /fold HTTP/1.1\r\nHost: victim.localhost\r\n attacker.localhost\r\n\r\n`],
      ['a space before the colon of Host', `GET /sp HTTP/1.1\r\nHost : attacker.localhost\r\n\r\n`],
      ['a bare LF line ending', `GET /lf HTTP/1.1\nHost: victim.localhost\n\n${smuggled}`],
      [
        'a bad chunk size',
        `POST /chunk HTTP/1.1\r\nHost: victim.localhost\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n`,
      ],
    ];
    for (const [what, text] of variants) {
      forget();
      const answer = await raw(router.port, text);
      assert.equal(status(answer), 400, `${what}:\n${answer}`);
      assert.equal(responses(answer), 1, `${what}: one answer only:\n${answer}`);
      assert.deepEqual(seen(), [], what);
    }
    // Still serving afterwards.
    assert.equal((await send(router.port, { host: 'victim.localhost' })).status, 200);
  });
});
