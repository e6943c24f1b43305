import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAgo, formatBytes, formatDuration, formatMiB, formatRate, plural } from './format';
import { appUrl, parseRoute } from './route';

describe('format', () => {
  it('writes sizes in binary units', () => {
    assert.deepEqual([0, 512, 1536, 10 * 1024 * 1024, 300 * 1024 * 1024, 5 * 1024 ** 3, null].map(formatBytes), [
      '0 B',
      '512 B',
      '1.5 KiB',
      '10.0 MiB',
      '300 MiB',
      '5.0 GiB',
      '–',
    ]);
    assert.equal(formatMiB(512), '512 MiB');
    assert.equal(formatMiB(4096), '4.0 GiB');
  });

  it('writes durations and ages', () => {
    assert.deepEqual([0, 45_000, 192_000, 7_500_000, 3 * 86_400_000 + 3_600_000].map(formatDuration), [
      '0s',
      '45s',
      '3m 12s',
      '2h 5m',
      '3d 1h',
    ]);
    const now = Date.parse('2025-01-10T12:00:00Z');
    assert.equal(formatAgo('2025-01-10T11:59:58Z', now), 'just now');
    assert.equal(formatAgo('2025-01-10T11:59:30Z', now), '30s ago');
    assert.equal(formatAgo('2025-01-10T11:00:00Z', now), '1h ago');
    assert.equal(formatAgo('2024-12-01T00:00:00Z', now), '2024-12-01');
    assert.equal(formatAgo(null, now), 'never');
  });

  it('writes rates and counts', () => {
    assert.deepEqual([0, 0.25, 0.5, 3.5, 3, 120.4].map(formatRate), ['0', '0.25', '0.5', '3.5', '3', '120']);
    assert.equal(plural(1, 'instance'), '1 instance');
    assert.equal(plural(3, 'instance'), '3 instances');
  });
});

describe('routes', () => {
  it('maps paths to pages and back', () => {
    assert.deepEqual(parseRoute('/'), { page: 'apps' });
    assert.deepEqual(parseRoute('/nodes/'), { page: 'nodes' });
    assert.deepEqual(parseRoute('/apps/shop'), { page: 'app', app: 'shop', tab: 'overview' });
    assert.deepEqual(parseRoute('/apps/shop/config'), { page: 'app', app: 'shop', tab: 'config' });
    assert.deepEqual(parseRoute('/apps/shop/builds/12'), { page: 'app', app: 'shop', tab: 'builds', build: 12 });
    assert.deepEqual(parseRoute('/apps/shop/releases/12'), { page: 'not-found', path: '/apps/shop/releases/12' });
    assert.deepEqual(parseRoute('/apps/shop/nosuch'), { page: 'not-found', path: '/apps/shop/nosuch' });
    assert.deepEqual(parseRoute('/apps/%E0%A4%A'), { page: 'not-found', path: '/apps/%E0%A4%A' });
    for (const url of [appUrl('shop'), appUrl('shop', 'logs'), appUrl('shop', 'builds', 3)]) {
      const route = parseRoute(url);
      assert.equal(route.page, 'app', url);
    }
    assert.equal(appUrl('shop', 'builds', 3), '/apps/shop/builds/3');
  });
});
