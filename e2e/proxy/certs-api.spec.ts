/**
 * A certificate uploaded through the api reaches a real router: the api (in this process, its
 * own PAAS_ROOT, SQLite, a real redis-server) validates it, seals its key and publishes the
 * app's entry; the router bundle (two workers, the same Redis and sealing key) serves it for
 * the app's domain, verified by curl --cacert against the test PKI's root. Removing the
 * domain stops it being served; the app's HTTPS redirect reaches the router through the
 * scheduler's route. How the router picks certificates is e2e/proxy/tls.spec.ts's.
 *
 * Every worker serves a certificate added while the router runs, without a restart, and keeps
 * serving it with the api down, as does a router started while the api is down (the table
 * comes from Redis). Which worker answers is not left to the kernel's accept order: all the
 * other workers are stopped (SIGSTOP) while one handshake is made, so only one process can
 * accept it, and /proc says which process holds the server's end of that connection.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalRedis, type TestPki, makeTestPki } from '@paas/platform/testing';
import { ensureSealingKey, sealingKeyFile } from '@paas/platform/tls';
import { type PlatformApi, callApi, readAdminToken, startLocalApi } from '../platform/support/api';
import { RouterProcess, cleanup, curlHttps, ensureBuilt, redisServer, routerEnv, send, waitFor } from './support';

const DOMAIN = 'apps.test';

/** The pid among `pids` that holds the server's end of the loopback connection from `clientPort` to `serverPort`. */
function serverEndOwner(serverPort: number, clientPort: number, pids: readonly number[]): number | null {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(serverPort)}`) && f[2]?.endsWith(`:${hex(clientPort)}`));
  const inode = line?.[9];
  if (!inode || inode === '0') return null;
  for (const pid of pids) {
    const fds = readdirSync(`/proc/${pid}/fd`);
    if (fds.some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' }) === `socket:[${inode}]`))
      return pid;
  }
  return null;
}

/**
 * A TLS handshake with `name` on `port` made while every worker but `pid` is stopped: verified
 * against `ca` for the name (a failure rejects); answers the serial served and who accepted it.
 */
async function handshakeOn(
  pid: number,
  workers: readonly number[],
  port: number,
  name: string,
  ca: string,
): Promise<{ serial: string; owner: number | null }> {
  const others = workers.filter((w) => w !== pid);
  for (const other of others) process.kill(other, 'SIGSTOP');
  try {
    return await new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: name, ca, ALPNProtocols: ['http/1.1'] });
      socket.setTimeout(5000, () => socket.destroy(new Error(`handshake with ${name} on worker ${pid}: timed out`)));
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        const answer = {
          serial: socket.getPeerCertificate().serialNumber.toUpperCase(),
          owner: serverEndOwner(port, socket.localPort ?? 0, workers),
        };
        socket.destroy();
        resolve(answer);
      });
    });
  } finally {
    for (const other of others) process.kill(other, 'SIGCONT');
  }
}

describe('router e2e: certificates from the api', () => {
  let redis: LocalRedis;
  let api: PlatformApi | undefined;
  let router: RouterProcess;
  let pki: TestPki;
  let dir: string;
  let token = '';

  /** The status of GET / through the router's HTTPS listener for `host`, trusting only the test root. */
  const curl = (host: string): Promise<string> =>
    curlHttps(router.tlsPort, host, join(dir, 'root.pem'), { writeOut: '%{http_code}' });
  const call = (method: string, path: string, body?: unknown, status = 200): Promise<unknown> =>
    callApi(api?.url ?? '', token, method, path, body, status);

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'paas-e2e-certs-api-'));
    pki = await makeTestPki();
    writeFileSync(join(dir, 'root.pem'), pki.root.cert);
    redis = await redisServer();
    const root = join(dir, 'root');
    api = await startLocalApi(dir, redis.url, {
      PAAS_ROOT: root,
      PAAS_RUN: join(dir, 'run'),
      PAAS_DOMAIN: DOMAIN,
      PAAS_RECONCILE_MS: '200',
      PAAS_CERTS_TRUSTED_CA_FILE: join(dir, 'root.pem'),
    });
    token = readAdminToken(root);
    const sealing = sealingKeyFile(root);
    ensureSealingKey(sealing);
    router = await new RouterProcess(
      routerEnv(redis.url, {
        PAAS_ROUTER_WORKERS: '2',
        PAAS_ROUTER_RESYNC_MS: '500',
        PAAS_ROUTER_TLS_ADDR: '127.0.0.1:0',
        PAAS_DOMAIN: DOMAIN,
        PAAS_SEALING_KEY_FILE: sealing,
      }),
    ).ready();
  });

  after(async () => {
    await api?.close().catch(() => undefined);
    await cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves an uploaded certificate for the app domain it covers, until the domain goes', async () => {
    await call('POST', '/api/apps', { name: 'shop' }, 201);
    await call('POST', '/api/apps/shop/domains', { hostname: 'www.shop.test' }, 201);
    const leaf = await pki.leaf(['www.shop.test', 'old.shop.test']);
    await call('POST', '/api/apps/shop/certs', { cert: pki.chain(leaf), key: leaf.key }, 201);
    // the app has no instance: the route's 503 comes over a handshake the client verified
    await waitFor('the router to serve www.shop.test over verified TLS', async () => {
      return (await curl('www.shop.test').catch(() => '')) === '503';
    });
    // a name of the certificate that is not the app's domain is not served
    await assert.rejects(curl('old.shop.test'));
    await call('DELETE', '/api/apps/shop/domains/www.shop.test');
    await waitFor('the router to stop serving www.shop.test', async () => {
      const r = await curl('www.shop.test').catch(() => null);
      return r === null;
    });
  });

  it("redirects plain HTTP once the app's HTTPS redirect is on", async () => {
    await call('POST', '/api/apps/shop/domains', { hostname: 'www.shop.test' }, 201);
    await call('PATCH', '/api/apps/shop/https', { httpsRedirect: true });
    await waitFor('the router to redirect', async () => {
      const res = await send(router.port, { host: 'www.shop.test', path: '/a?b=1' });
      return res.status === 308 ? res : undefined;
    });
    const res = await send(router.port, { host: 'www.shop.test', path: '/a?b=1' });
    assert.equal(res.headers['location'], `https://www.shop.test:${router.tlsPort}/a?b=1`);
  });

  // last: it stops the api
  it('every worker serves a certificate added while it runs, without a restart, also with the api down', async () => {
    const workers = router.workerPids();
    assert.equal(workers.length, 2, `the router's workers: ${workers.join(', ')}`);
    await call('POST', '/api/apps', { name: 'cafe' }, 201);
    await call('POST', '/api/apps/cafe/domains', { hostname: 'www.cafe.test' }, 201);
    const leaf = await pki.leaf(['www.cafe.test']);
    const serial = new X509Certificate(leaf.cert).serialNumber.toUpperCase();
    await call('POST', '/api/apps/cafe/certs', { cert: pki.chain(leaf), key: leaf.key }, 201);
    /** Each of `pids` answers a verified handshake for the name with the new certificate, itself. */
    const eachServes = async (pids: readonly number[], port: number, when: string): Promise<void> => {
      for (const pid of pids) {
        const got = await waitFor(`worker ${pid} to serve www.cafe.test ${when}`, async () =>
          handshakeOn(pid, pids, port, 'www.cafe.test', pki.root.cert).catch(() => undefined),
        );
        assert.deepEqual(got, { serial, owner: pid }, `worker ${pid} ${when}`);
      }
    };
    await eachServes(workers, router.tlsPort, 'while the router runs');
    assert.deepEqual(router.workerPids(), workers, 'no worker was restarted');

    await api?.close();
    api = undefined;
    await eachServes(workers, router.tlsPort, 'with the api down');
    // a router started now has only Redis to take the table from
    const fresh = await new RouterProcess(
      routerEnv(redis.url, {
        PAAS_ROUTER_WORKERS: '2',
        PAAS_ROUTER_TLS_ADDR: '127.0.0.1:0',
        PAAS_DOMAIN: DOMAIN,
        PAAS_SEALING_KEY_FILE: sealingKeyFile(join(dir, 'root')),
      }),
    ).ready();
    const freshWorkers = fresh.workerPids();
    assert.equal(freshWorkers.length, 2);
    await eachServes(freshWorkers, fresh.tlsPort, 'in a router started with the api down');
    await fresh.stop();
  });
});
