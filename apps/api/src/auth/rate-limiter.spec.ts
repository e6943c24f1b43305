import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthRateLimiter, MAX_ADDRESSES, MAX_FAILURES, WINDOW_MS, limiterKey } from './rate-limiter';

describe('AuthRateLimiter', () => {
  it('refuses an address after ten failures until its minute is over', () => {
    let now = 1_000_000;
    const limiter = new AuthRateLimiter(() => now);
    for (let i = 0; i < MAX_FAILURES; i++) {
      assert.equal(limiter.retryAfter('10.0.0.1'), 0);
      limiter.fail('10.0.0.1');
      now += 1000;
    }
    assert.equal(limiter.retryAfter('10.0.0.1'), (WINDOW_MS - MAX_FAILURES * 1000) / 1000);
    assert.equal(limiter.retryAfter('10.0.0.2'), 0, 'other addresses are not affected');
    now = 1_000_000 + WINDOW_MS - 1;
    assert.equal(limiter.retryAfter('10.0.0.1'), 1, 'rounds up to whole seconds');
    now = 1_000_000 + WINDOW_MS;
    assert.equal(limiter.retryAfter('10.0.0.1'), 0, 'a new window forgives');
    limiter.fail('10.0.0.1');
    assert.equal(limiter.retryAfter('10.0.0.1'), 0);
  });

  it('forgets finished windows when many addresses failed', () => {
    let now = 0;
    const limiter = new AuthRateLimiter(() => now);
    for (let i = 0; i < 10_000; i++) limiter.fail(`a${i}`);
    now = WINDOW_MS;
    limiter.fail('late');
    const windows = (limiter as unknown as { windows: Map<string, unknown> }).windows;
    assert.equal(windows.size, 1);
  });

  it(`keeps at most ${MAX_ADDRESSES} addresses when all of them are failing at once`, () => {
    const now = 0;
    const limiter = new AuthRateLimiter(() => now);
    const windows = (limiter as unknown as { windows: Map<string, unknown> }).windows;
    for (let i = 0; i < MAX_ADDRESSES * 3; i++) limiter.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.ok(windows.size <= MAX_ADDRESSES, String(windows.size));
    for (let i = 0; i < MAX_FAILURES; i++) limiter.fail('192.0.2.1');
    assert.ok(limiter.retryAfter('192.0.2.1') > 0, 'the newest failing address is still refused');
  });

  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4', () => {
    assert.equal(limiterKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(limiterKey('192.0.2.7'), '192.0.2.7');
    assert.equal(limiterKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(limiterKey('2001:db8:1:2::99'), '2001:db8:1:2::/64');
    assert.equal(limiterKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(limiterKey('::1'), '0:0:0:0::/64');
    const limiter = new AuthRateLimiter(() => 0);
    for (let i = 0; i < MAX_FAILURES; i++) limiter.fail(`2001:db8:1:2::${i.toString(16)}`);
    assert.ok(limiter.retryAfter('2001:db8:1:2:ffff::1') > 0);
    assert.equal(limiter.retryAfter('2001:db8:1:3::1'), 0);
  });
});
