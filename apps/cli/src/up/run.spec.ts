import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listenAddress } from '@paas/config';
import { listenAddressOf, routerTlsAddress } from './run';

describe('listenAddressOf', () => {
  it('gives the address a component reported back as its address setting reads it', () => {
    for (const [url, host, port] of [
      ['http://127.0.0.1:41234', '127.0.0.1', 41234],
      ['http://0.0.0.0:80', '0.0.0.0', 80],
      ['http://[::1]:7000', '::1', 7000],
    ] as const) {
      const value = listenAddressOf(url);
      assert.deepEqual(listenAddress({ PAAS_API_ADDR: value }, 'PAAS_API_ADDR'), { host, port }, `${url} -> ${value}`);
    }
  });
});

describe('routerTlsAddress', () => {
  it("keeps the operator's setting, else puts HTTPS beside the router without needing port 443", () => {
    assert.equal(routerTlsAddress({ PAAS_ROUTER_TLS_ADDR: 'off' }), 'off');
    assert.equal(routerTlsAddress({ PAAS_ROUTER_TLS_ADDR: '10.0.0.1:443' }), '10.0.0.1:443');
    assert.equal(routerTlsAddress({}), '0.0.0.0:8443', 'beside the default 0.0.0.0:8080');
    assert.equal(routerTlsAddress({ PAAS_ROUTER_ADDR: '[::1]:9000' }), '[::1]:8443');
    assert.equal(routerTlsAddress({ PAAS_ROUTER_ADDR: '127.0.0.1:0' }), '127.0.0.1:0');
    assert.equal(routerTlsAddress({ PAAS_ROUTER_ADDR: '0.0.0.0:80' }), undefined, "port 80: the router's own 443");
  });
});
