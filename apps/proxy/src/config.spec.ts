import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProxyConfig } from './config';

describe('proxy config', () => {
  it('listens on all interfaces, port 8080, for APP.localhost by default', () => {
    const c = loadProxyConfig({});
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(c.domain, 'localhost');
  });

  it('takes the router address and domain from the environment', () => {
    const c = loadProxyConfig({ PAAS_ROUTER_ADDR: '127.0.0.1:0', PAAS_DOMAIN: 'apps.test' });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 0 });
    assert.equal(c.domain, 'apps.test');
  });

  it('rejects an invalid domain', () => {
    assert.throws(() => loadProxyConfig({ PAAS_DOMAIN: '-bad-' }), /PAAS_DOMAIN="-bad-"/);
  });
});
