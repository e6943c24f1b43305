import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ScaleArgumentError,
  formatFormation,
  formationUpdates,
  needsCurrent,
  parseResizeArgs,
  parseScaleArgs,
} from './scale';
import type { Formation } from '@paas/api-types';

const formation = (type: string, quantity: number, more: Partial<Formation> = {}): Formation => ({
  type,
  quantity,
  size: 'basic',
  memory: 256,
  cpuShares: 512,
  cpuQuota: null,
  up: quantity,
  waiting: 0,
  waitingReason: null,
  autoscale: null,
  sleeping: false,
  command: null,
  updatedAt: '',
  ...more,
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

  it('reads relative changes and sizes, named or as memory', () => {
    assert.deepEqual(parseScaleArgs(['web=+2', 'worker=-1', 'clock=1:1G', 'cron=2:256M', 'db=:128', 'x=3:Nano']), {
      changes: [
        { type: 'web', mode: 'add', quantity: 2 },
        { type: 'worker', mode: 'add', quantity: -1 },
        { type: 'clock', mode: 'set', quantity: 1, size: 'standard-2x' },
        { type: 'cron', mode: 'set', quantity: 2, size: 'basic' },
        { type: 'db', mode: 'add', quantity: 0, size: '128M' },
        { type: 'x', mode: 'set', quantity: 3, size: 'nano' },
      ],
    });
  });

  it('reads ps:resize TYPE=SIZE and refuses what is not one', () => {
    assert.deepEqual(parseResizeArgs(['web=standard-2x', 'worker=300M']), [
      { type: 'web', mode: 'add', quantity: 0, size: 'standard-2x' },
      { type: 'worker', mode: 'add', quantity: 0, size: '300M' },
    ]);
    for (const [args, message] of [
      [[], /nothing to resize/],
      [['web'], /invalid resize argument 'web'/],
      [['web='], /invalid resize argument/],
      [['web=basic=x'], /invalid resize argument/],
      [['web=xl'], /unknown size 'xl' in 'web=xl': expected a size: nano, micro, basic/],
      [['Web=basic'], /invalid process type 'Web'/],
      [['web=basic', 'web=nano'], /given twice/],
    ] as const) {
      assert.throws(
        () => parseResizeArgs(args),
        (err: unknown) => err instanceof ScaleArgumentError && message.test(err.message),
        args.join(' '),
      );
    }
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
      [['web=10001'], /0-10000/],
      [['web=1:xl'], /unknown size 'xl' in 'web=1:xl'/],
      [['web=1:15M'], /unknown size '15M'/],
      [['web=1:basic:2'], /invalid scale argument/],
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
    const up = parseScaleArgs(['web=+6000']) as { changes: never[] };
    assert.throws(() => formationUpdates(up.changes, [formation('web', 5000)]), /would run 11000/);
  });

  it('formats a formation the way it is typed', () => {
    assert.equal(formatFormation({ type: 'web', quantity: 3, size: 'basic' }), 'web=3:basic');
    assert.equal(formatFormation({ type: 'web', quantity: 1, size: '2048M' }), 'web=1:2048M');
    assert.equal(formatFormation({ type: 'web', quantity: 1 }), 'web=1');
    assert.deepEqual(parseScaleArgs([formatFormation({ type: 'web', quantity: 3, size: '2048M' })]), {
      changes: [{ type: 'web', mode: 'set', quantity: 3, size: '2048M' }],
    });
  });
});
