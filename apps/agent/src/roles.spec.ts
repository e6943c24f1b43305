import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { systemClock } from './roles';

describe('systemClock', () => {
  it('leaves no listener on a long-lived signal once a sleep ends by its timer', async () => {
    const stop = new AbortController();
    for (let k = 0; k < 20; k++) await systemClock.sleep(1, stop.signal);
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
  });

  it('wakes at once when the signal aborts, and after it without waiting', async () => {
    const stop = new AbortController();
    const sleeping = systemClock.sleep(60_000, stop.signal);
    stop.abort();
    await sleeping;
    await systemClock.sleep(60_000, stop.signal);
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
  });
});
