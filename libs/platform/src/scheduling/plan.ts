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
 *              number). An *outgoing* instance (on a draining node, of another size than its
 *              formation's, or asked to be replaced by `ps:restart`) gets a replacement and is
 *              stopped once the replacements serve. Instances of any other release are stopped.
 *   deploying  the target's instances start next to the live release's, which keep serving
 *              untouched. When every process type has `quantity` target instances up, the
 *              target goes live (the router switches) and the old ones are stopped. If one of
 *              them crashes or fails its check, or the deploy takes longer than the timeout,
 *              the target fails: its instances are stopped and the live release keeps serving.
 *
 * Rolling when full. New instances start beside the ones they replace (at most `maxSurge`
 * more than `quantity` at a time). When no node has room for a replacement, outgoing
 * instances (the live release's, during a deploy) on up nodes are stopped to make room, in
 * batches that keep at most `maxUnavailable` of `quantity` not serving, as a Kubernetes
 * rolling update does; a deploy that nothing can make room for (no outgoing instance, nothing
 * leaving anywhere) fails at once with the reason instead of waiting for its timeout. What
 * cannot be placed is `unplaced`, with the reason: the scheduler shows it as waiting.
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
  largestCount,
  place,
} from './placement';

export interface PlanRelease {
  readonly id: string;
  readonly version: number;
  readonly processTypes: Readonly<Record<string, string>>;
  /** Whether it has an image to run (a config release before the first build has none). */
  readonly runnable: boolean;
}

/** What an instance gets (sizes.ts): the formation's when it is placed. */
export interface PlanSize {
  readonly size: string;
  /** MiB. */
  readonly memory: number;
  readonly cpuShares: number;
  /** Thousandths of a core, or null for no hard limit. */
  readonly cpuQuota: number | null;
}

export interface PlanInstance extends PlanSize {
  readonly id: string;
  readonly releaseId: string;
  readonly type: string;
  readonly number: number;
  readonly nodeId: string | null;
  readonly state: InstanceState;
  readonly desired: 'run' | 'stop';
  /** Asked to be replaced (`ps:restart`). */
  readonly replace?: boolean;
  readonly error?: string | null;
}

export interface PlanFormation extends PlanSize {
  readonly type: string;
  readonly quantity: number;
}

/** A rolling batch: a number of instances, or a percentage of `quantity` (Kubernetes' terms). */
export type RollingLimit = { readonly count: number } | { readonly percent: number };

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
  /** How many more than `quantity` may run while replacing (default 100%: a full second copy). */
  readonly maxSurge?: RollingLimit;
  /** How many of `quantity` may be down to make room when full (default 25%, at least one). */
  readonly maxUnavailable?: RollingLimit;
  /** Whether some instance (of any app) is leaving an up node: memory that will be free soon. */
  readonly freeing?: boolean;
}

export type StopReason = 'scale' | 'release' | 'drain' | 'deploy-failed' | 'formation' | 'resize' | 'restart' | 'room';

export interface StartInstance extends PlanSize {
  readonly type: string;
  readonly number: number;
  readonly releaseId: string;
  readonly nodeId: string;
}

/** Instances of one type that no node has room for now. */
export interface Unplaced {
  readonly type: string;
  readonly count: number;
  readonly size: string;
  readonly memory: number;
  /** Why, as a user reads it: `no node has 512 MiB free`. */
  readonly reason: string;
  /** Replacements of instances on up nodes: they roll (old ones stop to make room) rather than wait. */
  readonly rolling: boolean;
}

export interface AppPlan {
  readonly start: StartInstance[];
  readonly stop: { readonly id: string; readonly reason: StopReason }[];
  /** The release the router switches to now. */
  readonly goLive: string | null;
  /** The target failed its deploy: it is marked failed and the live release keeps serving. */
  readonly fail: { readonly releaseId: string; readonly reason: string } | null;
  /** Instances no node has room for (they wait; a deploy that cannot make room fails). */
  readonly unplaced: Unplaced[];
}

const name = (i: Pick<PlanInstance, 'type' | 'number'>): string => `${i.type}.${i.number}`;

export const DEFAULT_MAX_SURGE: RollingLimit = { percent: 100 };
export const DEFAULT_MAX_UNAVAILABLE: RollingLimit = { percent: 25 };

/** A limit as a count of `quantity`, rounded up and at least one (a rolling step must move). */
export function rollingCount(limit: RollingLimit, quantity: number): number {
  const n = 'count' in limit ? limit.count : Math.ceil((quantity * limit.percent) / 100);
  return Math.max(1, n);
}

/** Why an instance of its formation's type must be replaced, or null when it is as wanted. */
function outgoingReason(i: PlanInstance, f: PlanFormation, nodeState: ReadonlyMap<string, string>): StopReason | null {
  if (i.nodeId === null || nodeState.get(i.nodeId) !== 'up') return 'drain';
  if (i.replace) return 'restart';
  if (i.size !== f.size || i.memory !== f.memory || i.cpuShares !== f.cpuShares || i.cpuQuota !== f.cpuQuota)
    return 'resize';
  return null;
}

/** Sizes in a user's words: `1 web (256 MiB)`. */
export function describeUnplaced(unplaced: readonly Unplaced[]): string {
  return unplaced.map((u) => `${u.count} ${u.type} (${u.memory} MiB)`).join(', ');
}

export function planApp(input: AppPlanInput): AppPlan {
  const plan: {
    start: StartInstance[];
    stop: { id: string; reason: StopReason }[];
    goLive: string | null;
    fail: { releaseId: string; reason: string } | null;
    unplaced: Unplaced[];
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
  const surge = input.maxSurge ?? DEFAULT_MAX_SURGE;
  const unavailable = input.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
  // instances of this app that are leaving still hold their memory: room is coming
  let freeing = input.freeing ?? input.instances.some((i) => i.desired === 'stop');
  let roomless = false;

  let complete = true;
  for (const f of formation) {
    const mine = running.filter((i) => i.releaseId === target.id && i.type === f.type && !stopped.has(i.id));
    const outgoing = new Map<PlanInstance, StopReason>();
    for (const i of mine) {
      const why = outgoingReason(i, f, nodeState);
      if (why) outgoing.set(i, why);
    }
    const fresh = mine.filter((i) => !outgoing.has(i));
    // during a deploy the live release's instances of this type are what the target replaces
    const old = deploying
      ? running.filter((i) => i.releaseId === keep && i.type === f.type && !stopped.has(i.id))
      : [...outgoing.keys()];
    const missing = f.quantity - fresh.length;
    if (missing > 0) {
      // at most quantity + surge running at once, counting what is being replaced
      const room = f.quantity + rollingCount(surge, f.quantity) - fresh.length - old.length;
      const wanted = Math.min(missing, Math.max(0, room));
      const numbers = freeNumbers(
        fresh.map((i) => i.number),
        wanted,
      );
      const requests: PlacementRequest[] = numbers.map(() => ({
        appId: input.appId,
        type: f.type,
        memory: f.memory,
        cpuShares: f.cpuShares,
      }));
      const nodes = place(input.nodes, allocations, requests, input.strategy);
      let unplaced = 0;
      nodes.forEach((nodeId, k) => {
        if (nodeId === null) {
          unplaced++;
          return;
        }
        plan.start.push({
          type: f.type,
          number: numbers[k] as number,
          releaseId: target.id,
          nodeId,
          size: f.size,
          memory: f.memory,
          cpuShares: f.cpuShares,
          cpuQuota: f.cpuQuota,
        });
        allocations.push({ nodeId, appId: input.appId, type: f.type, memory: f.memory, cpuShares: f.cpuShares });
      });
      if (unplaced > 0) {
        const ever = largestCount(input.nodes, f.memory);
        const reason =
          ever === 0
            ? input.nodes.some((n) => n.state === 'up')
              ? `no node could ever hold ${f.memory} MiB`
              : 'no node is up'
            : `no node has ${f.memory} MiB free`;
        // replacements for instances on up nodes roll: stopping those makes their room
        const rolling = old.some((i) => i.nodeId !== null && nodeState.get(i.nodeId) === 'up');
        plan.unplaced.push({ type: f.type, count: unplaced, size: f.size, memory: f.memory, reason, rolling });
        // with no node up there is nothing to judge by: the deploy waits for one (its clock stops)
        const anyUp = input.nodes.some((n) => n.state === 'up');
        if (anyUp && !rolling) roomless = true;
      }
      // blocked by the surge limit or by room: stop what is replaced, in batches that keep at
      // most maxUnavailable of quantity not serving
      // (stopping an instance of a node that is not up frees no room, only a surge slot)
      const bySurge = missing - wanted;
      const blocked = bySurge + unplaced;
      if (blocked > 0) {
        const serving = fresh.filter((i) => i.state === 'up').length + old.filter((i) => i.state === 'up').length;
        const down = Math.max(0, f.quantity - serving);
        const movable = old.filter(
          (i) => !stopped.has(i.id) && (bySurge > 0 || (i.nodeId !== null && nodeState.get(i.nodeId) === 'up')),
        );
        const batch = Math.min(blocked, movable.length, rollingCount(unavailable, f.quantity) - down);
        if (batch > 0) {
          for (const i of chooseToStop(movable, batch)) stop(i, deploying ? 'room' : (outgoing.get(i) ?? 'room'));
          freeing = true;
        }
      }
      complete = false;
    } else if (missing < 0) {
      for (const i of chooseToStop(fresh, -missing)) stop(i, 'scale');
    }
    const serving = fresh.filter((i) => !stopped.has(i.id) && i.state === 'up').length;
    if (serving < f.quantity) complete = false;
    // what is being replaced leaves once its replacements serve
    if (serving >= f.quantity) for (const [i, why] of outgoing) stop(i, why);
  }

  if (!deploying) return plan;
  const failed = running.find((i) => i.releaseId === target.id && !stopped.has(i.id) && i.state === 'crashed');
  const wanted = formation.reduce((sum, f) => sum + f.quantity, 0);
  const upCount = (): number =>
    running.filter((i) => i.releaseId === target.id && !stopped.has(i.id) && i.state === 'up').length;
  if (failed) {
    plan.fail = {
      releaseId: target.id,
      reason: `${name(failed)} ${failed.error ? `failed: ${failed.error}` : 'crashed'}`,
    };
  } else if (complete) {
    plan.goLive = target.id;
    for (const i of running) if (i.releaseId !== target.id) stop(i, 'release');
    return plan;
  } else if (roomless && !freeing) {
    // nothing to stop and nothing leaving: waiting would only wait for the timeout
    plan.fail = {
      releaseId: target.id,
      reason: `no room for ${describeUnplaced(plan.unplaced)}: ${[...new Set(plan.unplaced.map((u) => u.reason))].join('; ')}`,
    };
  } else if ((input.deployAgeMs ?? 0) > input.deployTimeoutMs) {
    const room = plan.unplaced.length ? `; no node has room for ${describeUnplaced(plan.unplaced)}` : '';
    plan.fail = {
      releaseId: target.id,
      reason: `timed out after ${Math.round(input.deployTimeoutMs / 1000)} s with ${upCount()} of ${wanted} instances up${room}`,
    };
  }
  if (plan.fail) {
    // nothing of the failed release stays: the live one keeps serving (what was stopped to
    // make room for it comes back as the next pass plans the live release again)
    plan.start.length = 0;
    plan.unplaced.length = 0;
    for (const [k, s] of [...plan.stop.entries()].reverse()) if (s.reason === 'room') plan.stop.splice(k, 1);
    for (const i of running) if (i.releaseId === target.id) stop(i, 'deploy-failed');
  }
  return plan;
}
