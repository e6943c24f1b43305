/**
 * What one app needs next, from what is wanted and what is there: the reconcile step of the
 * scheduler, pure so that every rule below is tested on plain values.
 *
 * Two releases matter. The *target* is the newest release that succeeded (the build made it, a
 * config change or a rollback did); the *live* one is the newest that the router switched to.
 * When they are the same the app is steady; otherwise a deploy is under way:
 *
 *   steady     each process type has `quantity` instances of the target on `up` nodes: missing
 *              ones are placed, extra ones stopped (crashed first, from the fullest node, highest
 *              number). An instance on a draining node gets a replacement and is stopped once
 *              the replacements serve. Instances of any other release are stopped.
 *   deploying  the target's instances start next to the live release's, which keep serving
 *              untouched. When every process type has `quantity` target instances up, the
 *              target goes live (the router switches) and the old ones are stopped. If one of
 *              them crashes or fails its check, or the deploy takes longer than the timeout,
 *              the target fails: its instances are stopped and the live release keeps serving.
 *
 * Stopping is a request: the scheduler takes the instance out of the route table first, then
 * tells its agent, which drains and stops it. An instance whose node is gone is dropped by the
 * scheduler before planning (see `lostInstances`).
 */
import type { InstanceState } from '../model/entities';
import {
  type Allocation,
  type NodeCapacity,
  type PlacementRequest,
  type Strategy,
  chooseToStop,
  freeNumbers,
  place,
} from './placement';

export interface PlanRelease {
  readonly id: string;
  readonly version: number;
  readonly processTypes: Readonly<Record<string, string>>;
  /** Whether it has an image to run (a config release before the first build has none). */
  readonly runnable: boolean;
}

export interface PlanInstance {
  readonly id: string;
  readonly releaseId: string;
  readonly type: string;
  readonly number: number;
  readonly nodeId: string | null;
  readonly state: InstanceState;
  readonly desired: 'run' | 'stop';
  readonly memory: number;
  readonly cpu: number;
  readonly error?: string | null;
}

export interface PlanFormation {
  readonly type: string;
  readonly quantity: number;
  readonly memory: number;
  readonly cpu: number;
}

export interface AppPlanInput {
  readonly appId: string;
  readonly target: PlanRelease | null;
  readonly live: PlanRelease | null;
  readonly formation: readonly PlanFormation[];
  /** The app's instances (leaving ones included). */
  readonly instances: readonly PlanInstance[];
  readonly nodes: readonly NodeCapacity[];
  /** What every instance of every app holds on the nodes. */
  readonly allocations: readonly Allocation[];
  readonly strategy: Strategy;
  /** How long the deploy of the target has been going on (when deploying). */
  readonly deployAgeMs?: number;
  readonly deployTimeoutMs: number;
}

export type StopReason = 'scale' | 'release' | 'drain' | 'deploy-failed' | 'formation';

export interface StartInstance {
  readonly type: string;
  readonly number: number;
  readonly releaseId: string;
  readonly nodeId: string;
  readonly memory: number;
  readonly cpu: number;
}

export interface AppPlan {
  readonly start: StartInstance[];
  readonly stop: { readonly id: string; readonly reason: StopReason }[];
  /** The release the router switches to now. */
  readonly goLive: string | null;
  /** The target failed its deploy: it is marked failed and the live release keeps serving. */
  readonly fail: { readonly releaseId: string; readonly reason: string } | null;
  /** Instances no node has room for. */
  readonly unplaced: { readonly type: string; readonly count: number; readonly memory: number; readonly cpu: number }[];
}

const name = (i: Pick<PlanInstance, 'type' | 'number'>): string => `${i.type}.${i.number}`;

export function planApp(input: AppPlanInput): AppPlan {
  const plan: {
    start: StartInstance[];
    stop: { id: string; reason: StopReason }[];
    goLive: string | null;
    fail: { releaseId: string; reason: string } | null;
    unplaced: { type: string; count: number; memory: number; cpu: number }[];
  } = { start: [], stop: [], goLive: null, fail: null, unplaced: [] };
  const stopped = new Set<string>();
  const stop = (i: PlanInstance, reason: StopReason): void => {
    if (stopped.has(i.id)) return;
    stopped.add(i.id);
    plan.stop.push({ id: i.id, reason });
  };
  const running = input.instances.filter((i) => i.desired === 'run');
  const target = input.target?.runnable ? input.target : null;
  if (!target) {
    for (const i of running) stop(i, 'release');
    return plan;
  }
  const deploying = input.live?.id !== target.id;
  const keep = deploying ? input.live?.id : undefined;
  const nodeState = new Map(input.nodes.map((n) => [n.id, n.state]));
  for (const i of running) {
    if (i.releaseId !== target.id && i.releaseId !== keep) stop(i, 'release');
  }

  const allocations: Allocation[] = [...input.allocations];
  // a fallback release may lack a type the formation (aligned to a newer one) lists
  const formation = input.formation.filter((f) => Object.hasOwn(target.processTypes, f.type));
  const types = new Set(formation.map((f) => f.type));
  for (const i of running) if (i.releaseId === target.id && !types.has(i.type)) stop(i, 'formation');

  let complete = true;
  for (const f of formation) {
    const mine = running.filter((i) => i.releaseId === target.id && i.type === f.type && !stopped.has(i.id));
    const good = mine.filter((i) => i.nodeId !== null && nodeState.get(i.nodeId) === 'up');
    const draining = mine.filter((i) => !good.includes(i));
    const missing = f.quantity - good.length;
    if (missing > 0) {
      const numbers = freeNumbers(
        good.map((i) => i.number),
        missing,
      );
      const requests: PlacementRequest[] = numbers.map(() => ({
        appId: input.appId,
        type: f.type,
        memory: f.memory,
        cpu: f.cpu,
      }));
      const nodes = place(input.nodes, allocations, requests, input.strategy);
      let unplaced = 0;
      nodes.forEach((nodeId, k) => {
        if (nodeId === null) {
          unplaced++;
          return;
        }
        const start = {
          type: f.type,
          number: numbers[k] as number,
          releaseId: target.id,
          nodeId,
          memory: f.memory,
          cpu: f.cpu,
        };
        plan.start.push(start);
        allocations.push({ nodeId, appId: input.appId, type: f.type, memory: f.memory, cpu: f.cpu });
      });
      if (unplaced > 0) plan.unplaced.push({ type: f.type, count: unplaced, memory: f.memory, cpu: f.cpu });
      complete = false;
    } else if (missing < 0) {
      for (const i of chooseToStop(good, -missing)) stop(i, 'scale');
    }
    const serving = good.filter((i) => !stopped.has(i.id) && i.state === 'up').length;
    if (serving < f.quantity) complete = false;
    // what runs on a draining node leaves once its replacements serve
    if (serving >= f.quantity) for (const i of draining) stop(i, 'drain');
  }

  if (!deploying) return plan;
  const failed = running.find((i) => i.releaseId === target.id && !stopped.has(i.id) && i.state === 'crashed');
  if (failed) {
    plan.fail = {
      releaseId: target.id,
      reason: `${name(failed)} ${failed.error ? `failed: ${failed.error}` : 'crashed'}`,
    };
  } else if (complete) {
    plan.goLive = target.id;
    for (const i of running) if (i.releaseId !== target.id) stop(i, 'release');
    return plan;
  } else if ((input.deployAgeMs ?? 0) > input.deployTimeoutMs) {
    const wanted = formation.reduce((sum, f) => sum + f.quantity, 0);
    const up = running.filter((i) => i.releaseId === target.id && !stopped.has(i.id) && i.state === 'up').length;
    const room = plan.unplaced.length
      ? `; no node has room for ${plan.unplaced.map((u) => `${u.count} ${u.type} (${u.memory} MiB, ${u.cpu / 1000} CPU)`).join(', ')}`
      : '';
    plan.fail = {
      releaseId: target.id,
      reason: `timed out after ${Math.round(input.deployTimeoutMs / 1000)} s with ${up} of ${wanted} instances up${room}`,
    };
  }
  if (plan.fail) {
    // nothing of the failed release stays: the live one keeps serving
    plan.start.length = 0;
    plan.unplaced.length = 0;
    for (const i of running) if (i.releaseId === target.id) stop(i, 'deploy-failed');
  }
  return plan;
}
