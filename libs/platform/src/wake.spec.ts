import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCHEDULER_KICK_CHANNEL } from './scheduling/kick';
import { suiteRedis } from './testing/redis';
import {
  ACTIVITY_FRESH_MS,
  clearWakeRequest,
  readActivity,
  readWakeRequests,
  removeActivity,
  reportActivity,
  reportFirstByte,
  requestWake,
  takeFirstByte,
} from './wake';

describe('scale to zero in Redis', () => {
  const redis = suiteRedis('paas-wake-');

  it("sums the routers' activity: the latest request, and what fresh routers hold in flight", async () => {
    const now = 1_000_000_000;
    await reportActivity(redis(), 'r1', [{ app: 'shop', lastRequestAt: now - 5000, inflight: 2 }], now);
    await reportActivity(
      redis(),
      'r2',
      [
        { app: 'shop', lastRequestAt: now - 9000, inflight: 1 },
        { app: 'blog', lastRequestAt: now - 1, inflight: 0 },
      ],
      now - ACTIVITY_FRESH_MS - 1,
    );
    const seen = await readActivity(redis(), ['shop', 'blog', 'none'], now);
    assert.deepEqual(
      seen.get('shop'),
      { lastRequestAt: now - 5000, inflight: 2 },
      "a silent router's in flight died with it",
    );
    assert.deepEqual(seen.get('blog'), { lastRequestAt: now - 1, inflight: 0 });
    assert.equal(seen.has('none'), false);
    await redis().hset('paas:activity:bad', 'r1', 'garbage');
    assert.equal((await readActivity(redis(), ['bad'], now)).has('bad'), false);
  });

  it("drops a stopped router's field, keeping its latest request in one field for all that left", async () => {
    const now = 2_000_000_000;
    await reportActivity(redis(), 'r1', [{ app: 'cafe', lastRequestAt: now - 100, inflight: 3 }], now);
    await reportActivity(redis(), 'r2', [{ app: 'cafe', lastRequestAt: now - 500, inflight: 1 }], now);
    await removeActivity(redis(), 'r1', ['cafe', 'never'], now);
    await reportActivity(redis(), 'r3', [{ app: 'cafe', lastRequestAt: now - 900, inflight: 0 }], now);
    await removeActivity(redis(), 'r3', ['cafe'], now);
    assert.deepEqual(Object.keys(await redis().hgetall('paas:activity:cafe')).sort(), ['left', 'r2']);
    assert.deepEqual((await readActivity(redis(), ['cafe'], now)).get('cafe'), {
      lastRequestAt: now - 100,
      inflight: 1,
    });
    assert.equal(await redis().exists('paas:activity:never'), 0);
  });

  it('asks for a wake once: a second ask joins it, and the leader is kicked once', async () => {
    const listener = redis().duplicate();
    const kicks: string[] = [];
    listener.on('message', (_channel: string, message: string) => kicks.push(message));
    await listener.subscribe(SCHEDULER_KICK_CHANNEL);
    try {
      assert.equal(await requestWake(redis(), 'nap', 1234), true);
      assert.equal(await requestWake(redis(), 'nap', 1300), false);
      assert.deepEqual(await readWakeRequests(redis(), ['nap', 'other']), new Map([['nap', 1234]]));
      await clearWakeRequest(redis(), 'nap');
      assert.equal(await requestWake(redis(), 'nap', 1400), true, 'taken: the next ask is a new wake');
      await redis().ping(); // the kicks were published before this answer
      for (let i = 0; i < 100 && kicks.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(kicks, ['pass', 'pass']);
    } finally {
      listener.disconnect();
    }
  });

  it("keeps a wake's first byte once, for the leader to take", async () => {
    await reportFirstByte(redis(), 'nap', 61.4);
    await reportFirstByte(redis(), 'nap', 80);
    assert.equal(await takeFirstByte(redis(), 'nap'), 61);
    assert.equal(await takeFirstByte(redis(), 'nap'), null);
  });
});
