import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceState } from '../model/entities';
import { type AppPlanInput, type PlanInstance, type PlanRelease, planApp } from './plan';
import type { Allocation, NodeCapacity } from './placement';

const v1: PlanRelease = { id: 'r1', version: 1, processTypes: { web: 'x', worker: 'y' }, runnable: true };
const v2: PlanRelease = { id: 'r2', version: 2, processTypes: { web: 'x', worker: 'y' }, runnable: true };
const v3: PlanRelease = { id: 'r3', version: 3, processTypes: { web: 'x' }, runnable: true };
const nodes: NodeCapacity[] = ['n1', 'n2', 'n3'].map((name) => ({
  id: name,
  name,
  state: 'up',
  memory: 4096,
  cpus: 4000,
}));

let seq = 0;
function inst(
  releaseId: string,
  type: string,
  number: number,
  nodeId: string | null,
  state: InstanceState = 'up',
  extra: Partial<PlanInstance> = {},
): PlanInstance {
  return { id: `i${++seq}`, releaseId, type, number, nodeId, state, desired: 'run', memory: 512, cpu: 1000, ...extra };
}

function input(overrides: Partial<AppPlanInput>): AppPlanInput {
  const instances = overrides.instances ?? [];
  const allocations: Allocation[] = instances
    .filter((i) => i.nodeId !== null)
    .map((i) => ({ nodeId: i.nodeId as string, appId: 'a', type: i.type, memory: i.memory, cpu: i.cpu }));
  return {
    appId: 'a',
    target: v1,
    live: v1,
    formation: [{ type: 'web', quantity: 1, memory: 512, cpu: 1000 }],
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
    const plan = planApp(
      input({ instances: [web1], formation: [{ type: 'web', quantity: 6, memory: 512, cpu: 1000 }] }),
    );
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
    const plan = planApp(input({ instances, formation: [{ type: 'web', quantity: 1, memory: 512, cpu: 1000 }] }));
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
    const formation = [{ type: 'web', quantity: 2, memory: 512, cpu: 1000 }];
    const plan = planApp(input({ target: v2, live: v1, instances: old, formation }));
    assert.deepEqual(starts(plan), ['web.1@n3:r2', 'web.2@n1:r2']);
    assert.deepEqual(plan.stop, []);
    assert.equal(plan.goLive, null);
  });

  it('deploys: waits while new instances start, goes live when all are up, then stops the old ones', () => {
    const old = [inst('r1', 'web', 1, 'n1'), inst('r1', 'web', 2, 'n2')];
    const formation = [{ type: 'web', quantity: 2, memory: 512, cpu: 1000 }];
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
    const zero = planApp(
      input({ target: v2, live: v1, formation: [{ type: 'web', quantity: 0, memory: 512, cpu: 1000 }] }),
    );
    assert.equal(zero.goLive, 'r2');
  });

  it('fails a deploy whose instance crashes or fails its check, stopping only the new instances', () => {
    const old = inst('r1', 'web', 1, 'n1');
    const bad = inst('r2', 'web', 1, 'n2', 'crashed', { error: 'GET / answered 500' });
    const fine = inst('r2', 'worker', 1, 'n3');
    const formation = [
      { type: 'web', quantity: 1, memory: 512, cpu: 1000 },
      { type: 'worker', quantity: 1, memory: 512, cpu: 1000 },
    ];
    const plan = planApp(input({ target: v2, live: v1, instances: [old, bad, fine], formation }));
    assert.deepEqual(plan.fail, { releaseId: 'r2', reason: 'web.1 failed: GET / answered 500' });
    assert.equal(plan.goLive, null);
    assert.deepEqual(plan.start, []);
    assert.deepEqual(plan.stop.map((s) => s.id).sort(), [bad.id, fine.id].sort());
    assert.ok(plan.stop.every((s) => s.reason === 'deploy-failed'));
  });

  it('fails a deploy that outlives its timeout, naming what could not be placed', () => {
    const old = inst('r1', 'web', 1, 'n1', 'up', { memory: 4096 });
    const full = nodes.map((n) => ({ ...n, memory: n.id === 'n1' ? 4096 : 256 }));
    const base = {
      target: v2,
      live: v1,
      instances: [old],
      nodes: full,
      formation: [{ type: 'web', quantity: 1, memory: 512, cpu: 1000 }],
    };
    const early = planApp(input({ ...base, deployAgeMs: 1000 }));
    assert.equal(early.fail, null);
    assert.deepEqual(early.unplaced, [{ type: 'web', count: 1, memory: 512, cpu: 1000 }]);
    const late = planApp(input({ ...base, deployAgeMs: 61_000 }));
    assert.deepEqual(late.fail, {
      releaseId: 'r2',
      reason: 'timed out after 60 s with 0 of 1 instances up; no node has room for 1 web (512 MiB, 1 CPU)',
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
    const formation = [{ type: 'web', quantity: 2, memory: 512, cpu: 1000 }];
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
    assert.deepEqual(plan.unplaced, [{ type: 'web', count: 1, memory: 512, cpu: 1000 }]);
  });

  it('places with the other apps’ instances counted', () => {
    const tight = nodes.map((n) => ({ ...n, memory: 1024 }));
    const allocations: Allocation[] = [
      { nodeId: 'n1', appId: 'b', type: 'web', memory: 1024, cpu: 0 },
      { nodeId: 'n2', appId: 'b', type: 'web', memory: 1024, cpu: 0 },
    ];
    const plan = planApp({
      ...input({ nodes: tight, formation: [{ type: 'web', quantity: 3, memory: 512, cpu: 100 }] }),
      allocations,
    });
    assert.deepEqual(starts(plan), ['web.1@n3:r1', 'web.2@n3:r1']);
    assert.deepEqual(plan.unplaced, [{ type: 'web', count: 1, memory: 512, cpu: 100 }]);
  });
});
