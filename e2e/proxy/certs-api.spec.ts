/**
 * A certificate uploaded through the api reaches a real router: the api (in this process, its
 * own PAAS_ROOT, SQLite, a real redis-server) validates it, seals its key and publishes the
 * app's entry; the router bundle (two workers, the same Redis and sealing key) serves it for
 * the app's domain, verified by curl --cacert against the test PKI's root. Removing the
 * domain stops it being served; the app's HTTPS redirect reaches the router through the
 * scheduler's route. How the router picks certificates is e2e/proxy/tls.spec.ts's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalRedis, type TestPki, makeTestPki } from '@paas/platform/testing';
import { ensureSealingKey, sealingKeyFile } from '@paas/platform/tls';
import { type PlatformApi, callApi, readAdminToken, startLocalApi } from '../platform/support/api';
import { RouterProcess, cleanup, curlHttps, ensureBuilt, redisServer, routerEnv, send, waitFor } from './support';

const DOMAIN = 'apps.test';

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
});
