import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AppActivity,
  type Autoscale,
  type FormationCounts,
  autoscaleProblems,
  describeAutoscale,
  formatDuration,
  formationState,
  formationSummary,
  idleQuantity,
  loadQuantity,
  isSleeping,
  parseDuration,
} from './formation';

const formation = (_type: string, quantity: number, more: Partial<FormationCounts> = {}): FormationCounts => ({
  quantity,
  up: quantity,
  waiting: 0,
  waitingReason: null,
  ...more,
});

describe('formation state', () => {
  it('says what a process type is doing, waiting included', () => {
    assert.equal(formationState(formation('web', 3)), '3 up');
    assert.equal(formationState(formation('web', 0, { up: 0 })), 'none');
    assert.equal(formationState(formation('web', 3, { up: 1 })), '1 of 3 up, 2 starting');
    assert.equal(
      formationState(formation('web', 4, { up: 3, waiting: 1, waitingReason: 'no node has 512 MiB free' })),
      '3 of 4 up, 1 waiting: no node has 512 MiB free',
    );
    assert.equal(formationState(formation('web', 1, { up: 3 })), '3 up, going to 1');
  });
});

describe('autoscale', () => {
  const a = { min: 0, max: 5, concurrency: 20, idleMs: 900_000 };

  it('reads and writes durations', () => {
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1d'), 86_400_000);
    for (const bad of ['', '15', 'm', '1.5m', '-1s', '15 minutes', '1w']) assert.equal(parseDuration(bad), null, bad);
    assert.equal(formatDuration(900_000), '15m');
    assert.equal(formatDuration(2000), '2s');
    assert.equal(formatDuration(1500), '1500ms');
  });

  it('names the field of each bad setting', () => {
    assert.deepEqual(autoscaleProblems(a), []);
    const fields = (more: Partial<Autoscale>, most?: number): string[] =>
      autoscaleProblems({ ...a, ...more }, most).map((p) => p.field);
    assert.deepEqual(fields({ min: 3, max: 2 }), ['min']);
    assert.deepEqual(fields({ concurrency: 0 }), ['concurrency']);
    assert.deepEqual(fields({ concurrency: -1 }), ['concurrency']);
    assert.deepEqual(fields({ max: 11 }, 10), ['max']);
    assert.deepEqual(fields({ max: 0 }), ['max']);
    assert.deepEqual(fields({ idleMs: 10 }), ['idle']);
    assert.match(autoscaleProblems({ ...a, min: 3, max: 2 })[0]?.message ?? '', /min 3 is more than max 2/);
    assert.deepEqual(fields({ hardLimit: 20 }), [], 'a hard limit at the target is fine');
    assert.deepEqual(fields({ hardLimit: 0 }), ['hardLimit']);
    assert.deepEqual(fields({ hardLimit: 1.5 }), ['hardLimit']);
    assert.deepEqual(fields({ hardLimit: 10_001 }), ['hardLimit']);
    assert.deepEqual(fields({ hardLimit: 19 }), ['hardLimit']);
    assert.match(
      autoscaleProblems({ ...a, hardLimit: 19 })[0]?.message ?? '',
      /hardLimit 19 is less than concurrency 20/,
    );
  });

  it('describes the settings and sleeping', () => {
    assert.equal(describeAutoscale(a), 'autoscale 0..5, 20 per instance, idle 15m');
    assert.equal(
      describeAutoscale({ ...a, hardLimit: 40 }),
      'autoscale 0..5, 20 per instance, hard limit 40, idle 15m',
    );
    assert.equal(isSleeping({ quantity: 0, autoscale: a }), true);
    assert.equal(isSleeping({ quantity: 1, autoscale: a }), false);
    assert.equal(isSleeping({ quantity: 0, autoscale: null }), false);
    assert.equal(isSleeping({ quantity: 0, autoscale: { ...a, min: 1 } }), false);
    const counts = { quantity: 2, up: 2, waiting: 0, waitingReason: null };
    assert.equal(formationSummary({ ...counts, autoscale: null, sleeping: false }), '2 up');
    assert.equal(
      formationSummary({ ...counts, autoscale: a, sleeping: false }),
      '2 up; autoscale 0..5, 20 per instance, idle 15m',
    );
    assert.equal(
      formationSummary({ ...counts, quantity: 0, up: 0, autoscale: a, sleeping: true }),
      'sleeping; autoscale 0..5, 20 per instance, idle 15m',
    );
  });

  it('goes to zero only after the quiet period with nothing in flight', () => {
    const now = 10_000_000;
    const at = (activity: AppActivity | null, since = 0, quantity = 2, autoscale: Autoscale = a): number =>
      idleQuantity({ quantity, autoscale, activity, since, now });
    assert.equal(at({ lastRequestAt: now - 900_000, inflight: 0 }), 0);
    assert.equal(at({ lastRequestAt: now - 899_999, inflight: 0 }), 2, 'a request within the period');
    assert.equal(at({ lastRequestAt: now - 2_000_000, inflight: 1 }), 2, 'a request in flight (a websocket)');
    assert.equal(at(null, now - 1000), 2, 'scaled a second ago, no request seen');
    assert.equal(at(null, now - 900_000), 0, 'no request since it was scaled');
    assert.equal(at({ lastRequestAt: now - 2_000_000, inflight: 0 }, now - 10), 2, 'woken just now');
    assert.equal(at({ lastRequestAt: 0, inflight: 0 }, 0, 2, { ...a, min: 1 }), 2, 'min 1 never sleeps');
    assert.equal(at({ lastRequestAt: 0, inflight: 0 }, 0, 0), 0, 'asleep stays asleep');
  });
});

describe('load-driven autoscale', () => {
  const a = { min: 1, max: 5, concurrency: 10, idleMs: 60_000 };
  const at = (quantity: number, inflight: number, lowSince: number | null = null, now = 1_000_000) =>
    loadQuantity({ quantity, autoscale: a, inflight, lowSince, now });

  it('scales up at once to the instances the requests in flight need, up to max', () => {
    assert.deepEqual(at(1, 25), { quantity: 3, lowSince: null });
    assert.deepEqual(at(1, 500), { quantity: 5, lowSince: null });
    assert.deepEqual(at(3, 30), { quantity: 3, lowSince: null });
  });

  it('scales down only after the quiet period, never below min (nor to zero: that is idleQuantity)', () => {
    assert.deepEqual(at(4, 5), { quantity: 4, lowSince: 1_000_000 });
    assert.deepEqual(at(4, 5, 1_000_000, 1_059_999), { quantity: 4, lowSince: 1_000_000 });
    assert.deepEqual(at(4, 5, 1_000_000, 1_060_000), { quantity: 1, lowSince: null });
    assert.deepEqual(loadQuantity({ quantity: 3, autoscale: { ...a, min: 0 }, inflight: 0, lowSince: 0, now: 1e9 }), {
      quantity: 1,
      lowSince: null,
    });
    assert.deepEqual(at(4, 35, 1_000_000), { quantity: 4, lowSince: null }, 'load back: the quiet period starts again');
  });
});
