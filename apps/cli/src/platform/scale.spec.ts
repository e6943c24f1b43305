import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScaleArgumentError, formatFormation, formationUpdates, needsCurrent, parseScaleArgs } from './scale';
import type { Formation } from '@paas/api-types';

const formation = (type: string, quantity: number): Formation => ({
  type,
  quantity,
  memory: 512,
  cpu: 1000,
  command: null,
  updatedAt: '',
});

describe('ps:scale arguments', () => {
  it('reads TYPE=N for several types', () => {
    assert.deepEqual(parseScaleArgs(['web=3', 'worker=1']), {
      changes: [
        { type: 'web', mode: 'set', quantity: 3 },
        { type: 'worker', mode: 'set', quantity: 1 },
      ],
    });
    assert.deepEqual(parseScaleArgs(['web=0']), { changes: [{ type: 'web', mode: 'set', quantity: 0 }] });
  });

  it('reads relative changes and sizes', () => {
    assert.deepEqual(parseScaleArgs(['web=+2', 'worker=-1', 'clock=1:1G', 'cron=2:256M', 'db=:128']), {
      changes: [
        { type: 'web', mode: 'add', quantity: 2 },
        { type: 'worker', mode: 'add', quantity: -1 },
        { type: 'clock', mode: 'set', quantity: 1, memory: 1024 },
        { type: 'cron', mode: 'set', quantity: 2, memory: 256 },
        { type: 'db', mode: 'add', quantity: 0, memory: 128 },
      ],
    });
  });

  it('reads bare types (and nothing) as a request to show', () => {
    assert.deepEqual(parseScaleArgs([]), { show: [] });
    assert.deepEqual(parseScaleArgs(['web', 'worker']), { show: ['web', 'worker'] });
  });

  it('rejects bad input naming the argument', () => {
    for (const [args, message] of [
      [['web=abc'], /invalid scale argument 'web=abc'/],
      [['web=3.5'], /invalid scale argument 'web=3\.5'/],
      [['web='], /missing the quantity/],
      [['web=+'], /invalid scale argument|missing the quantity/],
      [['Web=1'], /invalid process type 'Web'/],
      [['=3'], /invalid scale argument '=3'/],
      [['web=101'], /0-100/],
      [['web=1', 'web=2'], /given twice/],
      [['web=1', 'worker'], /invalid scale argument 'worker'/],
      [['1web'], /invalid process type '1web'/],
    ] as const) {
      assert.throws(
        () => parseScaleArgs(args),
        (err: unknown) => err instanceof ScaleArgumentError && message.test(err.message),
        args.join(' '),
      );
    }
  });

  it('resolves relative changes against the current formation', () => {
    const { changes } = parseScaleArgs(['web=+2', 'worker=-5', 'clock=1']) as { changes: never[] };
    assert.equal(needsCurrent(changes), true);
    assert.deepEqual(formationUpdates(changes, [formation('web', 1), formation('worker', 2)]), [
      { type: 'web', quantity: 3 },
      { type: 'worker', quantity: 0 },
      { type: 'clock', quantity: 1 },
    ]);
    assert.throws(() => formationUpdates(changes, []), /no process type 'web' to scale relatively/);
    const up = parseScaleArgs(['web=+60']) as { changes: never[] };
    assert.throws(() => formationUpdates(up.changes, [formation('web', 50)]), /would run 110/);
  });

  it('formats a formation the way it is typed', () => {
    assert.equal(formatFormation({ type: 'web', quantity: 3, memory: 512 }), 'web=3:512M');
    assert.equal(formatFormation({ type: 'web', quantity: 1, memory: 2048 }), 'web=1:2G');
    assert.equal(formatFormation({ type: 'web', quantity: 1 }), 'web=1');
    assert.deepEqual(parseScaleArgs([formatFormation({ type: 'web', quantity: 3, memory: 2048 })]), {
      changes: [{ type: 'web', mode: 'set', quantity: 3, memory: 2048 }],
    });
  });
});
