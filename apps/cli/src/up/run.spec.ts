import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listenAddress } from '@paas/config';
import { listenAddressOf } from './run';

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
