import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Allocation, type NodeCapacity, chooseToStop, freeNumbers, largestCount, place, usage } from './placement';

const node = (
  name: string,
  memory = 4096,
  cpus = 4000,
  state: NodeCapacity['state'] = 'up',
  overcommit = 100,
): NodeCapacity => ({ id: `id-${name}`, name, memory, overcommit, cpus, state });
const web = (appId = 'a', memory = 512, cpuShares = 1024) => ({ appId, type: 'web', memory, cpuShares });
const names = (ids: (string | null)[]): (string | null)[] => ids.map((id) => (id ? id.replace(/^id-/, '') : null));
const count = (ids: (string | null)[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const id of names(ids)) out[String(id)] = (out[String(id)] ?? 0) + 1;
  return out;
};

describe('placement', () => {
  it('spreads one app over every node: 6 instances on 3 nodes go 2/2/2', () => {
    const nodes = [node('n1'), node('n2'), node('n3')];
    const placed = place(
      nodes,
      [],
      Array.from({ length: 6 }, () => web()),
      'spread',
    );
    assert.deepEqual(count(placed), { n1: 2, n2: 2, n3: 2 });
  });

  it('spreads by process type first, then by app, then by free memory', () => {
    const nodes = [node('n1'), node('n2')];
    const existing: Allocation[] = [
      { nodeId: 'id-n1', appId: 'a', type: 'worker', memory: 512, cpuShares: 1024 },
      { nodeId: 'id-n2', appId: 'b', type: 'web', memory: 2048, cpuShares: 1024 },
    ];
    // n1 has a's worker (same app), n2 is fuller but holds nothing of a: the web goes to n2
    assert.deepEqual(names(place(nodes, existing, [web()], 'spread')), ['n2']);
    // with a web of a on n2 already, the next web goes to n1 despite its worker
    existing.push({ nodeId: 'id-n2', appId: 'a', type: 'web', memory: 512, cpuShares: 1024 });
    assert.deepEqual(names(place(nodes, existing, [web()], 'spread')), ['n1']);
    // equal counts: the node with more free memory
    assert.deepEqual(names(place([node('x'), node('y', 8192)], [], [web()], 'spread')), ['y']);
  });

  it('bin-packs: fills the fullest node that fits, keeping others empty', () => {
    const nodes = [node('n1', 2048), node('n2', 2048), node('n3', 2048)];
    const placed = place(
      nodes,
      [],
      Array.from({ length: 6 }, () => web('a', 512, 1024)),
      'binpack',
    );
    assert.deepEqual(count(placed), { n1: 4, n2: 2 });
    const existing: Allocation[] = [{ nodeId: 'id-n3', appId: 'b', type: 'web', memory: 1024, cpuShares: 2 }];
    assert.deepEqual(names(place(nodes, existing, [web('a', 512, 1024)], 'binpack')), ['n3']);
  });

  it('never places beyond memory times the overcommit, nor on nodes that are not up', () => {
    const nodes = [node('small', 600, 4000), node('down', 8192, 8000, 'down'), node('drain', 8192, 8000, 'draining')];
    assert.deepEqual(names(place(nodes, [], [web(), web()], 'spread')), ['small', null]);
    assert.deepEqual(names(place(nodes, [], [web()], 'binpack')), ['small']);
    assert.deepEqual(names(place([], [], [web()], 'spread')), [null]);
    // 600 MiB at 200%: two of 512 MiB fit, a third does not
    const doubled = [node('small', 600, 4000, 'up', 200)];
    assert.deepEqual(names(place(doubled, [], [web(), web(), web()], 'spread')), ['small', 'small', null]);
  });

  it('does not reserve CPU: a 1-core node holds many instances, and weight per core spreads them', () => {
    // 2 cores and 24 GiB hold far more than two instances (the old reservation held two)
    const one = [node('vps', 24_576, 2000)];
    const many = place(
      one,
      [],
      Array.from({ length: 40 }, () => web('a', 256, 512)),
      'spread',
    );
    assert.deepEqual(count(many), { vps: 40 });
    // equal counts and memory: the node with less weight per core wins
    const busy: Allocation[] = [{ nodeId: 'id-x', appId: 'b', type: 'web', memory: 1, cpuShares: 8192 }];
    assert.deepEqual(names(place([node('x'), node('y')], busy, [web()], 'spread')), ['y']);
    // ...and the one with more cores for the same weight
    const same: Allocation[] = [
      { nodeId: 'id-x', appId: 'b', type: 'web', memory: 512, cpuShares: 1024 },
      { nodeId: 'id-y', appId: 'b', type: 'web', memory: 512, cpuShares: 1024 },
    ];
    assert.deepEqual(names(place([node('x', 4096, 2000), node('y', 4096, 8000)], same, [web()], 'spread')), ['y']);
  });

  it('says how many of a size the up nodes could ever hold', () => {
    const nodes = [node('a', 1000, 1000, 'up', 200), node('b', 600), node('c', 8192, 8000, 'down')];
    assert.equal(largestCount(nodes, 256), 7 + 2);
    assert.equal(largestCount(nodes, 4096), 0);
    assert.equal(largestCount([], 256), 0);
    // what the cluster could ever hold counts the down node too
    assert.equal(largestCount(nodes, 256, { every: true }), 7 + 2 + 32);
  });

  it('counts what nodes hold', () => {
    const u = usage(
      [node('n1'), node('n2')],
      [
        { nodeId: 'id-n1', appId: 'a', type: 'web', memory: 100, cpuShares: 10 },
        { nodeId: 'id-n1', appId: 'b', type: 'web', memory: 50, cpuShares: 5 },
      ],
    );
    assert.deepEqual(
      u.map((x) => [x.node.name, x.memoryUsed, x.sharesUsed]),
      [
        ['n1', 150, 15],
        ['n2', 0, 0],
      ],
    );
  });

  it('stops the instances that serve least, keeping the rest spread', () => {
    const instances = [
      { id: '1', nodeId: 'n1', number: 1, state: 'up' },
      { id: '2', nodeId: 'n2', number: 2, state: 'up' },
      { id: '3', nodeId: 'n3', number: 3, state: 'up' },
      { id: '4', nodeId: 'n1', number: 4, state: 'up' },
      { id: '5', nodeId: 'n2', number: 5, state: 'starting' },
      { id: '6', nodeId: 'n3', number: 6, state: 'crashed' },
    ];
    assert.deepEqual(
      chooseToStop(instances, 3).map((i) => i.id),
      ['6', '5', '4'],
    );
    assert.deepEqual(
      chooseToStop(instances, 5).map((i) => i.id),
      ['6', '5', '4', '3', '2'],
    );
    assert.deepEqual(chooseToStop(instances, 0), []);
    assert.equal(chooseToStop(instances, 10).length, 6);
  });

  it('numbers new instances with the lowest free numbers', () => {
    assert.deepEqual(freeNumbers([1, 3], 3), [2, 4, 5]);
    assert.deepEqual(freeNumbers([], 2), [1, 2]);
    assert.deepEqual(freeNumbers([1], 0), []);
  });
});
