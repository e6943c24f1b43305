/**
 * Placement: which node a new instance goes to, as Nomad places allocations. A node fits an
 * instance when it is `up` and has the instance's memory free, counting every instance it
 * already holds (leaving ones too, until they are gone) against its memory times its
 * overcommit ratio. CPU is not reserved (instances share it by weight, sizes.ts): it only
 * breaks ties, towards the node with the least CPU weight per core.
 *
 *   spread   fewest instances of the same app and process type, then of the same app, then
 *            the least weight per core, then the most free memory: one app's instances land
 *            on as many nodes as possible
 *   binpack  the node left with the least free memory (then the most weight per core): fills
 *            nodes one by one and keeps others empty
 *
 * Ties go to the node name, so the same input always gives the same answer. Pure functions:
 * the scheduler feeds them rows and applies what they return.
 */

export type Strategy = 'spread' | 'binpack';

export interface NodeCapacity {
  readonly id: string;
  readonly name: string;
  readonly state: 'up' | 'down' | 'draining';
  /** MiB offered to instances. */
  readonly memory: number;
  /** How much of `memory` placement may promise, in percent (200: twice). */
  readonly overcommit: number;
  /** Thousandths of a core. */
  readonly cpus: number;
}

/** What placement reads of a node row (a pass's, an add-on's placement). */
export function nodeCapacity({ id, name, state, memory, overcommit, cpus }: NodeCapacity): NodeCapacity {
  return { id, name, state, memory, overcommit, cpus };
}

/** The memory placement may promise on a node, in MiB. */
export function schedulableMemory(node: Pick<NodeCapacity, 'memory' | 'overcommit'>): number {
  return Math.floor((node.memory * node.overcommit) / 100);
}

/** Something that holds resources on a node: an instance, wanted or running. */
export interface Allocation {
  readonly nodeId: string;
  readonly appId: string;
  readonly type: string;
  readonly memory: number;
  readonly cpuShares: number;
}

export interface PlacementRequest {
  readonly appId: string;
  readonly type: string;
  readonly memory: number;
  readonly cpuShares: number;
}

export interface NodeUsage {
  readonly node: NodeCapacity;
  readonly memoryUsed: number;
  readonly sharesUsed: number;
}

/** What each node has in use. */
export function usage(nodes: readonly NodeCapacity[], allocations: readonly Allocation[]): NodeUsage[] {
  return nodes.map((node) => {
    let memoryUsed = 0;
    let sharesUsed = 0;
    for (const a of allocations) {
      if (a.nodeId !== node.id) continue;
      memoryUsed += a.memory;
      sharesUsed += a.cpuShares;
    }
    return { node, memoryUsed, sharesUsed };
  });
}

function fits(u: NodeUsage, request: Pick<PlacementRequest, 'memory'>): boolean {
  return u.node.state === 'up' && schedulableMemory(u.node) - u.memoryUsed >= request.memory;
}

/**
 * How many instances of `memory` MiB these nodes could hold if they held nothing else: the up
 * ones (what placement can use now), or `every` node whatever its state (what the cluster could
 * ever hold: a node down for a moment still counts).
 */
export function largestCount(
  nodes: readonly Pick<NodeCapacity, 'state' | 'memory' | 'overcommit'>[],
  memory: number,
  { every = false } = {},
): number {
  let count = 0;
  for (const n of nodes) if (every || n.state === 'up') count += Math.floor(schedulableMemory(n) / memory);
  return count;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Places the requests one after another (each sees the ones before it); the chosen node id
 * of each, or null when no node fits it.
 */
export function place(
  nodes: readonly NodeCapacity[],
  allocations: readonly Allocation[],
  requests: readonly PlacementRequest[],
  strategy: Strategy,
): (string | null)[] {
  const placed: Allocation[] = [...allocations];
  return requests.map((request) => {
    const candidates = usage(nodes, placed).filter((u) => fits(u, request));
    if (candidates.length === 0) return null;
    const score = (u: NodeUsage): number[] => {
      const freeMemory = schedulableMemory(u.node) - u.memoryUsed - request.memory;
      // weight per core after this instance: a soft spread of CPU
      const load = (u.sharesUsed + request.cpuShares) / Math.max(1, u.node.cpus);
      if (strategy === 'binpack') return [freeMemory, -load];
      let sameType = 0;
      let sameApp = 0;
      for (const a of placed) {
        if (a.nodeId !== u.node.id || a.appId !== request.appId) continue;
        sameApp++;
        if (a.type === request.type) sameType++;
      }
      return [sameType, sameApp, load, -freeMemory];
    };
    const best = candidates
      .map((u) => ({ u, score: score(u) }))
      .sort((a, b) => compare(a.score, b.score) || (a.u.node.name < b.u.node.name ? -1 : 1))[0];
    if (!best) return null;
    placed.push({ nodeId: best.u.node.id, ...request });
    return best.u.node.id;
  });
}

export interface Removable {
  readonly id: string;
  readonly nodeId: string | null;
  readonly number: number;
  readonly state: string;
}

const STATE_ORDER: Record<string, number> = { crashed: 0, down: 0, starting: 1, stopping: 1, up: 2 };

/**
 * Which `count` of `instances` to stop when scaling down: ones that do not serve first
 * (crashed, then starting), then from the nodes holding the most of them (so what stays is
 * spread), then the highest numbers, as Heroku stops web.3 before web.2.
 */
export function chooseToStop<T extends Removable>(instances: readonly T[], count: number): T[] {
  const left = [...instances];
  const chosen: T[] = [];
  while (chosen.length < count && left.length > 0) {
    const perNode = new Map<string | null, number>();
    for (const i of left) perNode.set(i.nodeId, (perNode.get(i.nodeId) ?? 0) + 1);
    left.sort(
      (a, b) =>
        (STATE_ORDER[a.state] ?? 1) - (STATE_ORDER[b.state] ?? 1) ||
        (perNode.get(b.nodeId) ?? 0) - (perNode.get(a.nodeId) ?? 0) ||
        b.number - a.number,
    );
    chosen.push(left.shift() as T);
  }
  return chosen;
}

/** The lowest numbers (from 1) not in `taken`, `count` of them. */
export function freeNumbers(taken: Iterable<number>, count: number): number[] {
  const used = new Set(taken);
  const out: number[] = [];
  for (let n = 1; out.length < count; n++) if (!used.has(n)) out.push(n);
  return out;
}
