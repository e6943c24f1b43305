/**
 * The router's HTTPS as it runs: `dist/apps/proxy/main.js` with two workers, a real
 * redis-server holding the route and certificate tables (written with the control plane's own
 * writers, keys sealed under the sealing key in the router's $PAAS_ROOT), real TLS clients
 * (node:tls and curl --cacert) trusting a test CA. Which certificate a name gets, in detail,
 * is apps/proxy/src/tls.spec.ts's; here: the table's way to every worker, live, and without Redis.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { CERTS_KEY, type TableCert, putAcmeChallenge, removeAppCerts, setAppCerts } from '@paas/platform/certs';
import { connectRedis, setAppRoutes } from '@paas/platform/routes';
import type { LocalRedis } from '@paas/platform/testing';
import {
  type PlatformCa,
  ensurePlatformCa,
  ensureSealingKey,
  issueLeaf,
  seal,
  sealingKeyFile,
} from '@paas/platform/tls';
import {
  type Backend,
  RouterProcess,
  backend,
  cleanup,
  curlHttps,
  ensureBuilt,
  redisServer,
  routerEnv,
  send,
  waitFor,
} from './support';

/** The names of the certificate a fresh connection gets for `servername`, or the handshake's error. */
function served(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().subjectaltname ?? '');
      socket.destroy();
    });
    socket.once('error', (err: Error) => resolve(`error: ${err.message}`));
  });
}

describe('router e2e: HTTPS', () => {
  let redis: LocalRedis;
  let writer: Redis;
  let router: RouterProcess;
  let dir: string;
  let ca: PlatformCa;
  let caFile: string;
  let sealingKey: Buffer;
  let app: Backend;

  const cert = async (id: string, domains: string[], key = sealingKey): Promise<TableCert> => {
    const leaf = await issueLeaf(ca, { commonName: domains[0] ?? id, sans: domains });
    return { id, domains, cert: leaf.cert, key: seal(key, leaf.key, id), notAfter: '2030-01-01T00:00:00Z' };
  };

  /** Until every worker serves the certificate table at its current version in Redis. */
  const everyWorkerHas = async (): Promise<void> => {
    const version = Number((await writer.get(`${CERTS_KEY}:version`)) ?? 0);
    await waitFor(`every worker to serve certificate table version ${version}`, async () => {
      const health = await router.health();
      return (
        health.certsVersion === version &&
        health.workerCertsVersions.length === 2 &&
        health.workerCertsVersions.every((v) => v === version)
      );
    });
  };

  /** What `count` fresh connections get (the kernel spreads them over the workers). */
  const manyTimes = async (name: string, count = 8): Promise<Set<string>> => {
    const got = new Set<string>();
    for (let i = 0; i < count; i++) got.add(await served(router.tlsPort, name, ca.cert));
    return got;
  };

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'paas-e2e-router-tls-'));
    ca = await ensurePlatformCa(join(dir, 'ca'));
    caFile = ca.certFile;
    redis = await redisServer();
    writer = connectRedis(redis.url);
    app = await backend('shop');
    const env = routerEnv(redis.url, {
      PAAS_ROUTER_WORKERS: '2',
      PAAS_ROUTER_RESYNC_MS: '500',
      PAAS_ROUTER_TLS_ADDR: '127.0.0.1:0',
    });
    sealingKey = ensureSealingKey(sealingKeyFile(env['PAAS_ROOT'] ?? ''));
    await setAppRoutes(
      writer,
      'shop',
      ['shop.example.com', 'www.shop.example.com'],
      [{ id: 'web.1', address: app.address }],
    );
    router = await new RouterProcess(env).ready();
  });

  after(async () => {
    writer?.disconnect();
    await cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves a certificate on every worker as soon as the table has it, and stops when it is removed', async () => {
    for (const got of await manyTimes('shop.example.com'))
      assert.match(got, /^error: /, 'no certificate yet, no default pair');
    await setAppCerts(writer, 'shop', [await cert('c-1', ['shop.example.com', '*.shop.example.com'])]);
    await everyWorkerHas();
    assert.deepEqual(await manyTimes('shop.example.com'), new Set(['DNS:shop.example.com, DNS:*.shop.example.com']));
    assert.deepEqual(
      await manyTimes('www.shop.example.com'),
      new Set(['DNS:shop.example.com, DNS:*.shop.example.com']),
    );
    // A real client verifying the chain for the name, through the router to the app.
    assert.equal(await curlHttps(router.tlsPort, 'shop.example.com', caFile, { path: '/hello' }), 'shop /hello');
    assert.equal(app.seen.at(-1)?.headers['x-forwarded-proto'], 'https');

    await removeAppCerts(writer, 'shop');
    await everyWorkerHas();
    for (const got of await manyTimes('shop.example.com')) assert.match(got, /^error: /);
  });

  it('skips a malformed entry and a key sealed under another key, saying so, and serves the rest', async () => {
    const good = await cert('good', ['shop.example.com']);
    const foreign = await cert('foreign', ['www.shop.example.com'], Buffer.alloc(32, 7));
    await writer.hset(CERTS_KEY, 'shop', JSON.stringify({ app: 'shop', certs: [good, foreign, { id: 'x' }] }));
    await writer.hset(CERTS_KEY, 'junk', '{not json');
    await writer.incr(`${CERTS_KEY}:version`);
    await everyWorkerHas();
    assert.deepEqual(await manyTimes('shop.example.com', 4), new Set(['DNS:shop.example.com']));
    for (const got of await manyTimes('www.shop.example.com', 4)) assert.match(got, /^error: /);
    await waitFor('the problems in the log', () =>
      [
        /certificate "foreign" of app shop: skipped: .*sealed under another key/,
        /paas:certs: skipped app "shop": .*certs\[2\]/,
        /paas:certs: skipped app "junk": .*not JSON/,
      ].every((re) => re.test(router.stderr)),
    );
    assert.doesNotMatch(router.stderr + router.stdout, /BEGIN PRIVATE KEY/, 'no key in any log');
    await writer.hdel(CERTS_KEY, 'junk');
  });

  it('answers ACME HTTP-01 from Redis on the plain listener for any host', async () => {
    const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
    await putAcmeChallenge(writer, token, `${token}.thumbprint`);
    await writer.set('paas:acme:http-01:*', 'leak');
    for (let i = 0; i < 4; i++) {
      const answer = await send(router.port, {
        host: 'anything.example',
        path: `/.well-known/acme-challenge/${token}`,
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, `${token}.thumbprint`);
    }
    const glob = await send(router.port, { host: 'anything.example', path: '/.well-known/acme-challenge/*' });
    assert.equal(glob.status, 404);
    assert.doesNotMatch(glob.body, /leak/);
  });

  it('keeps serving HTTPS with what it has while Redis is down', async () => {
    await setAppCerts(writer, 'shop', [await cert('c-2', ['shop.example.com'])]);
    await everyWorkerHas();
    writer.disconnect();
    await redis.stop();
    assert.deepEqual(await manyTimes('shop.example.com'), new Set(['DNS:shop.example.com']));
    assert.equal(await curlHttps(router.tlsPort, 'shop.example.com', caFile, { path: '/still' }), 'shop /still');
  });
});

describe('router e2e: HTTPS in one process, and an address in use', () => {
  after(cleanup);

  it('serves the certificate table live with no workers too (PAAS_ROUTER_WORKERS=0)', async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'paas-e2e-router-tls-one-'));
    const redis = await redisServer();
    const writer = connectRedis(redis.url);
    try {
      const ca = await ensurePlatformCa(join(dir, 'ca'));
      const env = routerEnv(redis.url, { PAAS_ROUTER_WORKERS: '0', PAAS_ROUTER_TLS_ADDR: '127.0.0.1:0' });
      const key = ensureSealingKey(sealingKeyFile(env['PAAS_ROOT'] ?? ''));
      const app = await backend('solo');
      await setAppRoutes(writer, 'solo', ['solo.example.com'], [{ id: 'web.1', address: app.address }]);
      const router = await new RouterProcess(env).ready();
      assert.match(await served(router.tlsPort, 'solo.example.com', ca.cert), /^error: /);
      const leaf = await issueLeaf(ca, { commonName: 'solo', sans: ['solo.example.com'] });
      const version = await setAppCerts(writer, 'solo', [
        {
          id: 's-1',
          domains: ['solo.example.com'],
          cert: leaf.cert,
          key: seal(key, leaf.key, 's-1'),
          notAfter: '2030-01-01T00:00:00Z',
        },
      ]);
      await waitFor('the router to load the certificate', async () => (await router.health()).certsVersion === version);
      assert.equal(await served(router.tlsPort, 'solo.example.com', ca.cert), 'DNS:solo.example.com');
    } finally {
      writer.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits saying which address it cannot listen on', async () => {
    ensureBuilt();
    const redis = await redisServer();
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const router = new RouterProcess(
        routerEnv(redis.url, { PAAS_ROUTER_WORKERS: '2', PAAS_ROUTER_TLS_ADDR: `127.0.0.1:${port}` }),
      );
      await assert.rejects(router.ready(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
