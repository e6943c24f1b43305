import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceState } from '../model/entities';
import {
  type AppPlanInput,
  type PlanFormation,
  type PlanInstance,
  type PlanRelease,
  type PlanSize,
  planApp,
} from './plan';
import type { Allocation, NodeCapacity } from './placement';

const v1: PlanRelease = { id: 'r1', version: 1, processTypes: { web: 'x', worker: 'y' }, runnable: true };
const v2: PlanRelease = { id: 'r2', version: 2, processTypes: { web: 'x', worker: 'y' }, runnable: true };
const v3: PlanRelease = { id: 'r3', version: 3, processTypes: { web: 'x' }, runnable: true };
const nodes: NodeCapacity[] = ['n1', 'n2', 'n3'].map((name) => ({
  id: name,
  name,
  state: 'up',
  memory: 4096,
  overcommit: 100,
  cpus: 4000,
}));
const STANDARD = { size: 'standard-1x', memory: 512, cpuShares: 1024, cpuQuota: null };
const fm = (type: string, quantity: number, size: Partial<PlanSize> = {}): PlanFormation => ({
  type,
  quantity,
  ...STANDARD,
  ...size,
});

let seq = 0;
function inst(
  releaseId: string,
  type: string,
  number: number,
  nodeId: string | null,
  state: InstanceState = 'up',
  extra: Partial<PlanInstance> = {},
): PlanInstance {
  return { id: `i${++seq}`, releaseId, type, number, nodeId, state, desired: 'run', ...STANDARD, ...extra };
}

function input(overrides: Partial<AppPlanInput>): AppPlanInput {
  const instances = overrides.instances ?? [];
  const allocations: Allocation[] = instances
    .filter((i) => i.nodeId !== null)
    .map((i) => ({ nodeId: i.nodeId as string, appId: 'a', type: i.type, memory: i.memory, cpuShares: i.cpuShares }));
  return {
    appId: 'a',
    target: v1,
    live: v1,
    formation: [fm('web', 1)],
    instances,
    nodes,
    allocations,
    strategy: 'spread',
    deployTimeoutMs: 60_000,
    ...overrides,
  };
}

const starts = (plan: ReturnType<typeof planApp>): string[] =>
  plan.start.map((s) => `${s.type}.${s.number}@${s.nodeId}:${s.releaseId}`).sort();

describe('planApp', () => {
  it('scales up a steady app, spreading over the nodes', () => {
    const web1 = inst('r1', 'web', 1, 'n1');
    const plan = planApp(input({ instances: [web1], formation: [fm('web', 6)] }));
    assert.deepEqual(starts(plan), ['web.2@n2:r1', 'web.3@n3:r1', 'web.4@n1:r1', 'web.5@n2:r1', 'web.6@n3:r1']);
    assert.deepEqual(plan.stop, []);
    assert.equal(plan.goLive, null);
    assert.equal(plan.fail, null);
  });

  it('scales down, stopping the highest numbers and keeping the spread', () => {
    const instances = [
      inst('r1', 'web', 1, 'n1'),
      inst('r1', 'web', 2, 'n2'),
      inst('r1', 'web', 3, 'n3'),
      inst('r1', 'web', 4, 'n1'),
      inst('r1', 'web', 5, 'n2'),
      inst('r1', 'web', 6, 'n3'),
    ];
    const plan = planApp(input({ instances, formation: [fm('web', 1)] }));
    assert.deepEqual(plan.start, []);
    assert.deepEqual(
      plan.stop.map((s) => [instances.find((i) => i.id === s.id)?.number, s.reason]),
      [6, 5, 4, 3, 2].map((n) => [n, 'scale']),
    );
  });

  it('does nothing when the app is as wanted, and ignores instances already leaving', () => {
    const plan = planApp(
      input({ instances: [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n1', 'stopping', { desired: 'stop' })] }),
    );
    assert.deepEqual(plan, { start: [], stop: [], goLive: null, fail: null, unplaced: [] });
  });

  it('stops types the formation no longer has and instances of other releases', () => {
    const worker = inst('r1', 'worker', 1, 'n1');
    const stray = inst('r9', 'web', 1, 'n2');
    const plan = planApp(input({ instances: [inst('r1', 'web', 1, 'n1'), worker, stray] }));
    assert.deepEqual(
      plan.stop.sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: worker.id, reason: 'formation' },
        { id: stray.id, reason: 'release' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  it('stops everything when there is no release with an image', () => {
    const web = inst('r1', 'web', 1, 'n1');
    for (const target of [null, { ...v1, runnable: false }]) {
      const plan = planApp(input({ target, instances: [web] }));
      assert.deepEqual(plan.stop, [{ id: web.id, reason: 'release' }]);
      assert.deepEqual(plan.start, []);
    }
  });

  it('deploys: starts the new release beside the live one, which keeps serving', () => {
    const old = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n2')];
    const formation = [fm('web', 2)];
    const plan = planApp(input({ target: v2, live: v1, instances: old, formation }));
    assert.deepEqual(starts(plan), ['web.1@n3:r2', 'web.2@n1:r2']);
    assert.deepEqual(plan.stop, []);
    assert.equal(plan.goLive, null);
  });

  it('deploys: waits while new instances start, goes live when all are up, then stops the old ones', () => {
    const old = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n2')];
    const formation = [fm('web', 2)];
    const starting = [inst('r2', 'web', 1, 'n3'), inst('r2', 'web', 2, 'n1', 'starting')];
    const waiting = planApp(input({ target: v2, live: v1, instances: [...old, ...starting], formation }));
    assert.deepEqual(waiting, { start: [], stop: [], goLive: null, fail: null, unplaced: [] });
    const up = [starting[0] as PlanInstance, { ...(starting[1] as PlanInstance), state: 'up' as const }];
    const live = planApp(input({ target: v2, live: v1, instances: [...old, ...up], formation }));
    assert.equal(live.goLive, 'r2');
    assert.deepEqual(
      live.stop,
      old.map((i) => ({ id: i.id, reason: 'release' })),
    );
  });

  it('deploys a first release, and one scaled to zero goes live at once', () => {
    const first = planApp(input({ target: v1, live: null }));
    assert.deepEqual(starts(first), ['web.1@n1:r1']);
    assert.equal(first.goLive, null);
    const zero = planApp(input({ target: v2, live: v1, formation: [fm('web', 0)] }));
    assert.equal(zero.goLive, 'r2');
  });

  it('fails a deploy whose instance crashes or fails its check, stopping only the new instances', () => {
    const old = inst('r1', 'web', 1, 'n1');
    const bad = inst('r2', 'web', 1, 'n2', 'crashed', { error: 'GET / answered 500' });
    const fine = inst('r2', 'worker', 1, 'n3');
    const formation = [fm('web', 1), fm('worker', 1)];
    const plan = planApp(input({ target: v2, live: v1, instances: [old, bad, fine], formation }));
    assert.deepEqual(plan.fail, { releaseId: 'r2', reason: 'web.1 failed: GET / answered 500' });
    assert.equal(plan.goLive, null);
    assert.deepEqual(plan.start, []);
    assert.deepEqual(plan.stop.map((s) => s.id).sort(), [bad.id, fine.id].sort());
    assert.ok(plan.stop.every((s) => s.reason === 'deploy-failed'));
  });

  it('fails a deploy that outlives its timeout while room is coming, naming what could not be placed', () => {
    // the live instance sits on a draining node (stopping it frees no room anywhere), the
    // other nodes are full, and another app's instance is leaving: the deploy waits
    const old = inst('r1', 'web', 1, 'n1', 'up', { memory: 4096 });
    const full = nodes.map((n) =>
      n.id === 'n1' ? { ...n, memory: 4096, state: 'draining' as const } : { ...n, memory: 256 },
    );
    const base = { target: v2, live: v1, instances: [old], nodes: full, formation: [fm('web', 1)], freeing: true };
    const early = planApp(input({ ...base, deployAgeMs: 1000 }));
    assert.equal(early.fail, null);
    assert.deepEqual(early.stop, []);
    assert.deepEqual(early.unplaced, [
      {
        type: 'web',
        count: 1,
        size: 'standard-1x',
        memory: 512,
        reason: 'no node could ever hold 512 MiB',
        rolling: false,
      },
    ]);
    const late = planApp(input({ ...base, deployAgeMs: 61_000 }));
    assert.deepEqual(late.fail, {
      releaseId: 'r2',
      reason: 'timed out after 60 s with 0 of 1 instances up; no node has room for 1 web (512 MiB)',
    });
    assert.deepEqual(late.unplaced, []);
  });

  it('abandons a deploy overtaken by a newer release', () => {
    const live = inst('r1', 'web', 1, 'n1');
    const abandoned = inst('r2', 'web', 1, 'n2', 'starting');
    const plan = planApp(input({ target: v3, live: v1, instances: [live, abandoned] }));
    assert.deepEqual(plan.stop, [{ id: abandoned.id, reason: 'release' }]);
    assert.deepEqual(starts(plan), ['web.1@n3:r3']);
  });

  it('drains a node: replacements first, then the drained instances once those serve', () => {
    const draining = nodes.map((n) => (n.id === 'n1' ? { ...n, state: 'draining' as const } : n));
    const onDrained = inst('r1', 'web', 1, 'n1');
    const other = inst('r1', 'web', 2, 'n2');
    const formation = [fm('web', 2)];
    const first = planApp(input({ nodes: draining, instances: [onDrained, other], formation }));
    assert.deepEqual(starts(first), ['web.1@n3:r1']);
    assert.deepEqual(first.stop, []);
    const replacement = inst('r1', 'web', 1, 'n3', 'starting');
    const second = planApp(input({ nodes: draining, instances: [onDrained, other, replacement], formation }));
    assert.deepEqual(second, { start: [], stop: [], goLive: null, fail: null, unplaced: [] });
    const third = planApp(
      input({ nodes: draining, instances: [onDrained, other, { ...replacement, state: 'up' }], formation }),
    );
    assert.deepEqual(third.stop, [{ id: onDrained.id, reason: 'drain' }]);
  });

  it('keeps what runs on a draining node when no other node has room', () => {
    const draining = nodes.map((n) =>
      n.id === 'n1' ? { ...n, state: 'draining' as const } : { ...n, state: 'down' as const },
    );
    const onDrained = inst('r1', 'web', 1, 'n1');
    const plan = planApp(input({ nodes: draining, instances: [onDrained] }));
    assert.deepEqual(plan.stop, []);
    assert.deepEqual(plan.unplaced, [
      { type: 'web', count: 1, size: 'standard-1x', memory: 512, reason: 'no node is up', rolling: false },
    ]);
  });

  it('places with the other apps’ instances counted', () => {
    const tight = nodes.map((n) => ({ ...n, memory: 1024 }));
    const allocations: Allocation[] = [
      { nodeId: 'n1', appId: 'b', type: 'web', memory: 1024, cpuShares: 2048 },
      { nodeId: 'n2', appId: 'b', type: 'web', memory: 1024, cpuShares: 2048 },
    ];
    const plan = planApp({
      ...input({ nodes: tight, formation: [fm('web', 3)] }),
      allocations,
    });
    assert.deepEqual(starts(plan), ['web.1@n3:r1', 'web.2@n3:r1']);
    assert.deepEqual(plan.unplaced, [
      { type: 'web', count: 1, size: 'standard-1x', memory: 512, reason: 'no node has 512 MiB free', rolling: false },
    ]);
  });

  describe('sizes, restarts and rolling when full', () => {
    // one node with room for exactly two instances of 512 MiB
    const one: NodeCapacity[] = [{ id: 'n1', name: 'n1', state: 'up', memory: 1024, overcommit: 100, cpus: 2000 }];
    const ids = (plan: ReturnType<typeof planApp>) => plan.stop.map((s) => `${s.id}:${s.reason}`).sort();

    it('a size change replaces instances rolling: new ones first, the old ones once those serve', () => {
      const old = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n2')];
      const basic = [fm('web', 2, { size: 'basic', memory: 256, cpuShares: 512 })];
      const first = planApp(input({ instances: old, formation: basic }));
      assert.deepEqual(starts(first), ['web.1@n3:r1', 'web.2@n3:r1']);
      assert.ok(first.start.every((s) => s.size === 'basic' && s.memory === 256 && s.cpuShares === 512));
      assert.deepEqual(first.stop, []);
      const resized = (n: number, state: InstanceState) =>
        inst('r1', 'web', n, 'n3', state, { size: 'basic', memory: 256, cpuShares: 512 });
      const starting = planApp(
        input({ instances: [...old, resized(1, 'up'), resized(2, 'starting')], formation: basic }),
      );
      assert.deepEqual(starting, { start: [], stop: [], goLive: null, fail: null, unplaced: [] });
      const serving = planApp(input({ instances: [...old, resized(1, 'up'), resized(2, 'up')], formation: basic }));
      assert.deepEqual(ids(serving), old.map((i) => `${i.id}:resize`).sort());
      // a quota alone is a size change too
      const quota = planApp(input({ instances: old, formation: [fm('web', 2, { cpuQuota: 500 })] }));
      assert.equal(quota.start.length, 2);
    });

    it('ps:restart replaces the marked instances the same way', () => {
      const marked = inst('r1', 'web', 1, 'n1', 'up', { replace: true });
      const other = inst('r1', 'web', 2, 'n2');
      const first = planApp(input({ instances: [marked, other], formation: [fm('web', 2)] }));
      assert.deepEqual(starts(first), ['web.1@n3:r1']);
      const fresh = inst('r1', 'web', 1, 'n3');
      const second = planApp(input({ instances: [marked, other, fresh], formation: [fm('web', 2)] }));
      assert.deepEqual(ids(second), [`${marked.id}:restart`]);
    });

    it('a full node restarts in batches of maxUnavailable, never all at once', () => {
      const a = inst('r1', 'web', 1, 'n1', 'up', { replace: true });
      const b = inst('r1', 'web', 2, 'n1', 'up', { replace: true });
      const base = { nodes: one, formation: [fm('web', 2)] };
      // no room for a replacement: one of them goes (25% of 2, at least one)
      const first = planApp(input({ ...base, instances: [a, b] }));
      assert.deepEqual(first.start, []);
      assert.deepEqual(ids(first), [`${b.id}:restart`]);
      assert.deepEqual([first.unplaced[0]?.reason, first.unplaced[0]?.rolling], ['no node has 512 MiB free', true]);
      // b gone: its replacement fits; a stays while the replacement starts
      const b2 = inst('r1', 'web', 2, 'n1', 'starting');
      const second = planApp(input({ ...base, instances: [a] }));
      assert.deepEqual(starts(second), ['web.1@n1:r1']);
      assert.deepEqual(second.stop, []);
      const waiting = planApp(input({ ...base, instances: [a, b2] }));
      assert.deepEqual(waiting.stop, [], 'one of two is down already: nothing more stops');
      const third = planApp(input({ ...base, instances: [a, { ...b2, state: 'up' }] }));
      assert.deepEqual(ids(third), [`${a.id}:restart`]);
    });

    it('deploys on a full node by rolling: old instances make room one batch at a time', () => {
      const v1s = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n1')];
      const base = { target: v2, live: v1, nodes: one, formation: [fm('web', 2)] };
      const first = planApp(input({ ...base, instances: v1s }));
      assert.deepEqual(first.start, []);
      assert.equal(first.fail, null);
      assert.deepEqual(ids(first), [`${v1s[1]?.id}:room`]);
      const new1 = inst('r2', 'web', 1, 'n1', 'starting');
      const second = planApp(input({ ...base, instances: [v1s[0] as PlanInstance] }));
      assert.deepEqual(starts(second), ['web.1@n1:r2']);
      const wait = planApp(input({ ...base, instances: [v1s[0] as PlanInstance, new1] }));
      assert.deepEqual(wait.stop, []);
      const up1 = { ...new1, state: 'up' as const };
      const third = planApp(input({ ...base, instances: [v1s[0] as PlanInstance, up1] }));
      assert.deepEqual(ids(third), [`${v1s[0]?.id}:room`]);
      assert.equal(third.goLive, null);
      const fourth = planApp(input({ ...base, instances: [up1] }));
      assert.deepEqual(starts(fourth), ['web.2@n1:r2']);
      const done = planApp(input({ ...base, instances: [up1, inst('r2', 'web', 2, 'n1')] }));
      assert.equal(done.goLive, 'r2');
    });

    it('a deploy that nothing can make room for fails at once; with room coming it waits', () => {
      const other: Allocation[] = [{ nodeId: 'n1', appId: 'b', type: 'web', memory: 1024, cpuShares: 2048 }];
      const base = { target: v1, live: null, nodes: one, formation: [fm('web', 1)], instances: [] };
      const now = planApp({ ...input(base), allocations: other, freeing: false });
      assert.deepEqual(now.fail, { releaseId: 'r1', reason: 'no room for 1 web (512 MiB): no node has 512 MiB free' });
      assert.deepEqual([now.start, now.unplaced], [[], []]);
      const later = planApp({ ...input(base), allocations: other, freeing: true });
      assert.equal(later.fail, null);
      assert.equal(later.unplaced.length, 1);
      // no node up at all: it waits for one
      const noNode = planApp(input({ ...base, nodes: [{ ...(one[0] as NodeCapacity), state: 'down' }] }));
      assert.deepEqual([noNode.fail, noNode.unplaced[0]?.reason], [null, 'no node is up']);
      // too big for any node, ever
      const huge = planApp(input({ ...base, formation: [fm('web', 1, { memory: 4096 })] }));
      assert.match(huge.fail?.reason ?? '', /no node could ever hold 4096 MiB/);
      // a failed rolling deploy takes back its room stops: the live release keeps what it has
      const two: NodeCapacity[] = [
        ...one,
        { id: 'n2', name: 'n2', state: 'up', memory: 512, overcommit: 100, cpus: 1 },
      ];
      const v1s = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n1')];
      const crashed = inst('r2', 'web', 1, 'n2', 'crashed');
      const rolling = { target: v2, live: v1, nodes: two, formation: [fm('web', 2)] };
      const failed = planApp(input({ ...rolling, instances: [...v1s, crashed] }));
      assert.ok(failed.fail);
      assert.deepEqual(ids(failed), [`${crashed.id}:deploy-failed`]);
      // (without the crash, that pass would have stopped one of v1 to make room)
      const starting = planApp(input({ ...rolling, instances: [...v1s, { ...crashed, state: 'starting' }] }));
      assert.equal(starting.fail, null);
      assert.deepEqual(
        starting.stop.map((x) => x.reason),
        ['room'],
      );
    });

    it('maxSurge bounds how many start beside the old ones; maxUnavailable how many stop', () => {
      const four = [1, 2, 3, 4].map((n) => inst('r1', 'web', n, `n${(n % 3) + 1}`));
      const plan = planApp(
        input({
          target: v2,
          live: v1,
          instances: four,
          formation: [fm('web', 4)],
          maxSurge: { count: 1 },
          maxUnavailable: { count: 1 },
        }),
      );
      assert.equal(plan.start.length, 1);
      assert.equal(plan.stop.length, 1);
      assert.equal(plan.stop[0]?.reason, 'room');
    });
  });
});
