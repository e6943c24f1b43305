import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { loadProxyConfig } from './config';

describe('proxy config', () => {
  it('listens on all interfaces, port 8080, for APP.localhost by default', () => {
    const c = loadProxyConfig({});
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(c.domain, 'localhost');
    assert.deepEqual(c.admin, { host: '127.0.0.1', port: 8081 });
    assert.equal(c.workers, availableParallelism());
    assert.equal(c.redisUrl, 'unix:///var/lib/paas/platform/redis/redis.sock');
    assert.equal(c.accessLog, true);
    assert.equal(c.routerId, null);
    assert.equal(c.healthIntervalMs, 2000);
    assert.equal(c.healthIdleIntervalMs, 10_000, 'a backend that keeps passing is checked 5x less often');
    assert.deepEqual([c.queue, c.queueTotal, c.queueWaitMs], [100, 1000, 10_000]);
  });

  it("takes the hard limit's queue from the environment, and says what is wrong with it", () => {
    const c = loadProxyConfig({
      PAAS_ROUTER_QUEUE: '0',
      PAAS_ROUTER_QUEUE_TOTAL: '50',
      PAAS_ROUTER_QUEUE_WAIT_MS: '2500',
    });
    assert.deepEqual([c.queue, c.queueTotal, c.queueWaitMs], [0, 50, 2500]);
    assert.throws(() => loadProxyConfig({ PAAS_ROUTER_QUEUE: 'lots' }), /PAAS_ROUTER_QUEUE/);
    assert.throws(() => loadProxyConfig({ PAAS_ROUTER_QUEUE_TOTAL: '-1' }), /PAAS_ROUTER_QUEUE_TOTAL/);
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_QUEUE_WAIT_MS: '10' }),
      /PAAS_ROUTER_QUEUE_WAIT_MS.*from 100 to 600000/,
    );
  });

  it('takes the router address and domain from the environment', () => {
    const c = loadProxyConfig({ PAAS_ROUTER_ADDR: '127.0.0.1:0', PAAS_DOMAIN: 'apps.test' });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 0 });
    assert.equal(c.domain, 'apps.test');
  });

  it('takes the router settings from the environment', () => {
    const c = loadProxyConfig({
      REDIS_URL: 'redis://127.0.0.1:6390',
      PAAS_ROUTER_WORKERS: '0',
      PAAS_ROUTER_ADMIN_ADDR: 'off',
      PAAS_ROUTER_ACCESS_LOG: 'off',
      PAAS_ROUTER_HEALTH_INTERVAL_MS: '250',
      PAAS_ROUTER_ID: 'edge-1',
    });
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6390');
    assert.equal(c.workers, 0);
    assert.equal(c.admin, null);
    assert.equal(c.accessLog, false);
    assert.equal(c.healthIntervalMs, 250);
    assert.equal(c.healthIdleIntervalMs, 1250, 'the idle interval follows the interval');
    assert.equal(
      loadProxyConfig({ PAAS_ROUTER_HEALTH_INTERVAL_MS: '250', PAAS_ROUTER_HEALTH_IDLE_INTERVAL_MS: '250' })
        .healthIdleIntervalMs,
      250,
    );
    assert.equal(c.routerId, 'edge-1');
  });

  it('serves HTTPS on port 443 beside the HTTP listener by default, port 0 beside port 0, or not at all', () => {
    const c = loadProxyConfig({ PAAS_ROOT: '/srv/paas' });
    assert.deepEqual(c.tls, {
      listen: { host: '0.0.0.0', port: 443 },
      defaultPair: null,
      sealingKeyFile: '/srv/paas/platform/tls/sealing.key',
    });
    assert.deepEqual(loadProxyConfig({ PAAS_ROUTER_ADDR: '[::1]:0' }).tls?.listen, { host: '::1', port: 0 });
    assert.deepEqual(loadProxyConfig({ PAAS_ROUTER_TLS_ADDR: '127.0.0.1:8443' }).tls?.listen, {
      host: '127.0.0.1',
      port: 8443,
    });
    assert.equal(loadProxyConfig({ PAAS_ROUTER_TLS_ADDR: 'off' }).tls, null);
    assert.equal(loadProxyConfig({ PAAS_SEALING_KEY_FILE: '/k' }).tls?.sealingKeyFile, '/k');
  });

  it('refuses a TLS address, a half pair or a pair that cannot be read, naming the setting', () => {
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_TLS_ADDR: 'nowhere' }),
      /PAAS_ROUTER_TLS_ADDR="nowhere": expected HOST:PORT, \[IPV6\]:PORT or :PORT or off/,
    );
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_TLS_CERT: '/c.pem' }),
      /PAAS_ROUTER_TLS_KEY.*required with PAAS_ROUTER_TLS_CERT/,
    );
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_TLS_KEY: '/k.pem' }),
      /PAAS_ROUTER_TLS_CERT.*required with PAAS_ROUTER_TLS_KEY/,
    );
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_TLS_CERT: '/nonexistent/c.pem', PAAS_ROUTER_TLS_KEY: '/nonexistent/k.pem' }),
      /PAAS_ROUTER_TLS_CERT.*\/nonexistent\/c\.pem/,
    );
  });

  it('names the variable and the value it rejects', () => {
    assert.throws(() => loadProxyConfig({ PAAS_DOMAIN: '-bad-' }), /PAAS_DOMAIN="-bad-"/);
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_WORKERS: 'many' }),
      /PAAS_ROUTER_WORKERS="many": expected a whole number from 0 to 256/,
    );
    assert.throws(() => loadProxyConfig({ PAAS_ROUTER_HEALTH_INTERVAL_MS: '5' }), /PAAS_ROUTER_HEALTH_INTERVAL_MS="5"/);
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_HEALTH_IDLE_INTERVAL_MS: '1000' }),
      /PAAS_ROUTER_HEALTH_IDLE_INTERVAL_MS="1000": expected a whole number from 2000 to 3600000/,
    );
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_ACCESS_LOG: 'maybe' }),
      /PAAS_ROUTER_ACCESS_LOG="maybe": expected on or off/,
    );
    assert.throws(
      () => loadProxyConfig({ PAAS_ROUTER_ADMIN_ADDR: 'nowhere' }),
      /PAAS_ROUTER_ADMIN_ADDR="nowhere": expected HOST:PORT, \[IPV6\]:PORT or :PORT or off/,
    );
  });
});
