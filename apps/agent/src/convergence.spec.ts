import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HeldInstance, converge, sameReach } from './convergence';
import { desiredInstance } from './testing/fakes';

const a = desiredInstance({ id: 'a' });
const b = desiredInstance({ id: 'b', number: 2 });

/** Instances the node holds; a container without reach unless one is given. */
function held(...instances: (Omit<HeldInstance, 'reach'> & Partial<HeldInstance>)[]): Map<string, HeldInstance> {
  return new Map(instances.map((i) => [i.id, { reach: [], ...i }]));
}

const db = { address: '10.88.0.1', port: 20001 };
const cache = { address: '10.88.0.1', port: 20002 };

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

  it("changes a held instance's reach in place when its desired entry names other add-ons", () => {
    const attached = desiredInstance({ id: 'a', reach: [db, cache] });
    assert.deepEqual(converge([attached], held({ id: 'a', desired: a, leaving: false, reach: [db] })), [
      { kind: 'reach', id: 'a', desired: attached },
    ]);
    // detached: none left
    assert.deepEqual(converge([a], held({ id: 'a', desired: attached, leaving: false, reach: [db] })), [
      { kind: 'reach', id: 'a', desired: a },
    ]);
    // an adopted container is claimed and its reach changed in one pass
    assert.deepEqual(converge([attached], held({ id: 'a', desired: null, leaving: false, reach: [] })), [
      { kind: 'claim', id: 'a', desired: attached },
      { kind: 'reach', id: 'a', desired: attached },
    ]);
  });

  it('leaves the reach alone when it is the same set, while there is no container yet, and for a leaving instance', () => {
    const both = desiredInstance({ id: 'a', reach: [cache, db, cache] });
    assert.deepEqual(converge([both], held({ id: 'a', desired: both, leaving: false, reach: [db, cache] })), []);
    assert.deepEqual(converge([both], held({ id: 'a', desired: a, leaving: false, reach: null })), []);
    assert.deepEqual(converge([both], held({ id: 'a', desired: a, leaving: true, reach: [] })), []);
  });

  it("never gives an add-on's container reach, whatever its entry says", () => {
    const addon = desiredInstance({
      id: 'a',
      reach: [db],
      addon: { name: 'pg', type: 'postgres', volume: 'v', target: '/data', hostPort: 20001, fresh: false },
    });
    assert.deepEqual(converge([addon], held({ id: 'a', desired: addon, leaving: false, reach: [] })), []);
    assert.deepEqual(converge([addon], held({ id: 'a', desired: addon, leaving: false, reach: [db] })), [
      { kind: 'reach', id: 'a', desired: addon },
    ]);
  });
});

describe('sameReach', () => {
  it('compares endpoints as sets', () => {
    assert.equal(sameReach([db, cache], [cache, db, db]), true);
    assert.equal(sameReach([], []), true);
    assert.equal(sameReach([db], [cache]), false);
    assert.equal(sameReach([db], [db, cache]), false);
    assert.equal(sameReach([db], [{ ...db, address: '10.88.0.2' }]), false);
  });
});
