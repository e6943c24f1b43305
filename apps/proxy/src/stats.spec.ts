import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DURATION_BUCKETS } from '@paas/platform/metrics';
import { Counters, MetricsAggregator } from './stats';

const noDurations = (): number[] => new Array<number>(DURATION_BUCKETS.length + 1).fill(0);

describe('request counters', () => {
  it('counts answers by status class and bytes', () => {
    const counters = new Counters();
    const shop = counters.app('shop');
    for (const status of [200, 204, 301, 404, 499, 502, 503]) counters.answered(shop, status, 10, null);
    counters.unrouted += 2;
    assert.deepEqual(counters.snapshot(), {
      apps: {
        shop: {
          requests: 7,
          inflight: 0,
          s2xx: 2,
          s3xx: 1,
          s4xx: 2,
          s5xx: 2,
          bytes: 70,
          durations: noDurations(),
          durationSum: 0,
          lastRequestAt: 0,
          wakeDurations: noDurations(),
          wakeDurationSum: 0,
          limitQueued: 0,
          limitShed: 0,
        },
      },
      unrouted: 2,
    });
  });

  it('counts durations into the fixed buckets; a snapshot is a copy the worker goes on counting past', () => {
    const counters = new Counters();
    const shop = counters.app('shop');
    const buckets = shop.durations;
    counters.answered(shop, 200, 0, 0.004); // le 0.005
    counters.answered(shop, 200, 0, 0.3); // le 0.5
    counters.answered(shop, 502, 0, 60); // above 10: +Inf only
    counters.answered(shop, 101, 0, null); // a websocket: no latency
    const first = counters.snapshot().apps['shop'];
    assert.equal(shop.durations, buckets, 'the same array all along: no allocation per request');
    const expected = noDurations();
    expected[0] = 1;
    expected[DURATION_BUCKETS.indexOf(0.5)] = 1;
    expected[DURATION_BUCKETS.length] = 1;
    assert.deepEqual(first?.durations, expected);
    assert.equal(first?.durationSum, 60.304);
    assert.equal(first?.requests, 4);
    counters.answered(shop, 200, 0, 0.004);
    assert.equal(first?.durations[0], 1, 'the snapshot did not move');
    assert.equal(counters.snapshot().apps['shop']?.durations[0], 2);
  });

  it('sums workers, keeps what exited workers counted and computes requests per second', () => {
    const metrics = new MetricsAggregator();
    const app = (requests: number, inflight: number, lastRequestAt = requests * 1000) => ({
      requests,
      inflight,
      s2xx: requests,
      s3xx: 0,
      s4xx: 0,
      s5xx: 0,
      bytes: requests * 100,
      durations: noDurations().map((_, i) => (i === 1 ? requests : 0)),
      durationSum: requests * 0.01,
      lastRequestAt,
      wakeDurations: noDurations().map((_, i) => (i === 0 && requests > 10 ? 1 : 0)),
      wakeDurationSum: requests > 10 ? 0.005 : 0,
      limitQueued: requests,
      limitShed: 1,
    });
    metrics.report('1', { apps: { shop: app(10, 1) }, unrouted: 1 });
    metrics.report('2', { apps: { shop: app(20, 2), blog: app(5, 0) }, unrouted: 0 });
    const first = metrics.sample('r', 10_000);
    assert.equal(first.apps['shop']?.requests, 30);
    assert.equal(first.apps['shop']?.inflight, 3);
    assert.equal(first.apps['shop']?.requestsPerSecond, 0, 'one sample: no rate yet');
    assert.equal(first.unrouted, 1);
    // the latest request any worker saw, for scale to zero; wakes add up
    assert.equal(metrics.totals().apps.get('shop')?.lastRequestAt, 20_000);
    assert.equal(metrics.totals().apps.get('shop')?.wakeDurations[0], 1);

    metrics.report('1', { apps: { shop: app(40, 0) }, unrouted: 1 });
    metrics.retire('2'); // its 20 + 5 requests stay in the totals; its in-flight ones do not
    // its last report, still in the pipe when it exited, is not counted a second time
    metrics.report('2', { apps: { shop: app(21, 0), blog: app(5, 0) }, unrouted: 0 });
    const second = metrics.sample('r', 12_000);
    assert.equal(second.apps['shop']?.requests, 60);
    assert.equal(second.apps['shop']?.inflight, 0);
    assert.equal(second.apps['shop']?.requestsPerSecond, 15);
    assert.equal(second.apps['blog']?.requests, 5);
    assert.deepEqual(second.apps['shop']?.status, { '2xx': 60, '3xx': 0, '4xx': 0, '5xx': 0 });
    // the latency buckets add up across workers, the retired one's included
    const shop = metrics.totals().apps.get('shop');
    assert.equal(shop?.durations[1], 60);
    assert.equal(
      shop?.durations.reduce((a, b) => a + b),
      60,
    );
    assert.equal(Math.round((shop?.durationSum ?? 0) * 1000) / 1000, 0.6);
    assert.equal(metrics.totals().apps.get('blog')?.durations[1], 5);
    assert.equal(shop?.lastRequestAt, 40_000, "a retired worker's last request counts too");
    assert.equal(shop?.wakeDurations[0], 2);
    // the hard limit's queued and shed add up too (40 + the retired worker's 20; 1 + 1)
    assert.deepEqual([shop?.limitQueued, shop?.limitShed], [60, 2]);

    // The rate looks back to the latest sample at least five seconds old, not to the start:
    // at 20 s that is the one of 12 s, so (120 - 60) / 8 s.
    metrics.report('1', { apps: { shop: app(100, 0) }, unrouted: 1 });
    metrics.sample('r', 16_000);
    const later = metrics.sample('r', 20_000);
    assert.equal(later.apps['shop']?.requestsPerSecond, 7.5);
  });
});
