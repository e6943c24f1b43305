import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FormationCounts, formationState } from './formation';

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
