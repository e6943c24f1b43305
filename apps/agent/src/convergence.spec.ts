import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HeldInstance, converge } from './convergence';
import { desiredInstance } from './testing/fakes';

const a = desiredInstance({ id: 'a' });
const b = desiredInstance({ id: 'b', number: 2 });

function held(...instances: HeldInstance[]): Map<string, HeldInstance> {
  return new Map(instances.map((i) => [i.id, i]));
}

describe('converge', () => {
  it('launches the desired instances the node does not have', () => {
    assert.deepEqual(converge([a, b], held({ id: 'a', desired: a, leaving: false })), [{ kind: 'launch', desired: b }]);
  });

  it('does nothing when the node runs exactly the desired set', () => {
    assert.deepEqual(converge([a], held({ id: 'a', desired: a, leaving: false })), []);
  });

  it('claims an adopted instance (no desired entry yet) instead of launching it again', () => {
    assert.deepEqual(converge([a], held({ id: 'a', desired: null, leaving: false })), [
      { kind: 'claim', id: 'a', desired: a },
    ]);
  });

  it('makes every instance that left the desired set leave, adopted ones included', () => {
    assert.deepEqual(
      converge([], held({ id: 'a', desired: a, leaving: false }, { id: 'b', desired: null, leaving: false })),
      [
        { kind: 'leave', id: 'a' },
        { kind: 'leave', id: 'b' },
      ],
    );
  });

  it('lets a leaving instance finish, even when it is desired again (a new one comes once it is gone)', () => {
    assert.deepEqual(converge([a], held({ id: 'a', desired: a, leaving: true })), []);
    assert.deepEqual(converge([], held({ id: 'a', desired: a, leaving: true })), []);
  });

  it('launches an instance named twice in one answer once', () => {
    assert.deepEqual(converge([a, a], held()), [{ kind: 'launch', desired: a }]);
  });
});
