import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthRateLimiter, MAX_FAILURES, WINDOW_MS } from './rate-limiter';

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
});
