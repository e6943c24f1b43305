/**
 * Small fakes of the components around the agent, behind its roles (roles.ts), for the unit
 * specs: a runtime that keeps containers in memory, records every call and fails on demand;
 * an image store whose pulls fail on demand; a control plane that applies full and delta
 * heartbeats as the api does, resends its set only when it changed, and can be taken away; a
 * health check that passes or fails as told; a clock the spec advances by hand. Never the
 * agent's own code: agent.ts, instance.ts and convergence.ts run for real against these.
 */
import type { ContainerRecord, ContainerState, CreateOptions, ServiceEndpoint } from '@paas/engine';
import type {
  AddonType,
  DesiredInstance,
  HeartbeatReply,
  HeartbeatRequest,
  InstanceReport,
  RegisterAnswer,
  RegisterRequest,
} from '@paas/platform';
import { digestOf } from '@paas/oci';
import { ControlPlaneError } from '../api-client';
import { CheckFailedError } from '../checks';
import type {
  AppLog,
  CheckedMarks,
  Clock,
  ContainerAddress,
  ContainerRuntime,
  ControlPlane,
  HealthChecker,
  ImageSource,
  ImageStore,
  LogSource,
  Nudges,
} from '../roles';

/** Lets every pending promise and callback of the fakes run: a few turns of the event loop, no time. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly timers: { at: number; seq: number; fn: () => void }[] = [];

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const cancel = this.after(ms, resolve);
      signal?.addEventListener('abort', () => (cancel(), resolve()), { once: true });
    });
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.time + ms, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  /** Moves time on by `ms`, firing each timer due on the way in order, and letting what it started settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.time = due.at;
      due.fn();
      await settle();
    }
    this.time = end;
  }

  now(): number {
    return this.time;
  }
}

interface FakeContainer {
  readonly record: ContainerRecord;
  state: ContainerState;
}

/**
 * Containers in memory; `calls` lists every change made to them (`create web.1`, `stop c1 30`...).
 * Named volumes come with the first container that mounts one and stay, as the engine's do.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly volumes = new Set<string>();
  /** The options of every create, in order. */
  readonly created: CreateOptions[] = [];
  readonly calls: string[] = [];
  /** Makes the next calls of a method throw this error. */
  readonly failing = new Map<'create' | 'start' | 'stop' | 'remove' | 'setReach', Error>();
  /** Lines every container prints once followed. */
  output: string[] = [];
  /** State reads so far. */
  stateReads = 0;
  private next = 1;
  private readonly watchers = new Map<string, Set<() => void>>();

  /** The container's shim wrote its state: the watchers hear of it. */
  private changed(id: string): void {
    for (const onChange of this.watchers.get(id) ?? []) onChange();
  }

  private fail(method: 'create' | 'start' | 'stop' | 'remove' | 'setReach'): void {
    const err = this.failing.get(method);
    if (err) throw err;
  }

  private get(record: ContainerRecord): FakeContainer {
    const c = this.containers.get(record.id);
    if (!c) throw new Error(`No such container: ${record.id}`);
    return c;
  }

  list(): Promise<ContainerRecord[]> {
    return Promise.resolve([...this.containers.values()].map((c) => c.record));
  }

  async create(image: string, options: CreateOptions): Promise<ContainerRecord> {
    this.fail('create');
    const id = `c${this.next++}`;
    const record: ContainerRecord = {
      id,
      name: options.name ?? id,
      created: new Date(0).toISOString(),
      image,
      imageId: digestOf(image),
      chainIds: [],
      args: [...(options.run.entrypoint ?? []), ...(options.run.cmd ?? [])],
      run: options.run,
      hostname: options.hostname ?? id,
      labels: options.labels ?? {},
      network: {
        mode: options.network ?? 'bridge',
        ports: options.ports ?? [],
        ...(options.reach?.length ? { reach: [...options.reach] } : {}),
      },
      restart: options.restart ?? 'no',
      stopSignal: 'SIGTERM',
      stopTimeout: options.stopTimeout ?? 10,
      autoRemove: false,
      interactive: false,
    };
    this.containers.set(id, { record, state: stateOf('created') });
    for (const v of options.run.volumes ?? []) if (v.name !== undefined) this.volumes.add(v.name);
    this.created.push(options);
    this.calls.push(`create ${id} ${image}`);
    return record;
  }

  async start(record: ContainerRecord): Promise<void> {
    this.fail('start');
    const c = this.get(record);
    c.state = stateOf('running', { restartCount: c.state.restartCount });
    this.calls.push(`start ${record.id}`);
    this.changed(record.id);
  }

  async state(record: ContainerRecord): Promise<ContainerState> {
    this.stateReads++;
    return this.get(record).state;
  }

  async stop(record: ContainerRecord, timeoutSeconds: number): Promise<void> {
    this.fail('stop');
    const c = this.get(record);
    c.state = stateOf('exited', { restartCount: c.state.restartCount });
    this.calls.push(`stop ${record.id} ${timeoutSeconds}`);
    this.changed(record.id);
  }

  async remove(record: ContainerRecord): Promise<void> {
    this.fail('remove');
    this.containers.delete(record.id);
    this.calls.push(`remove ${record.id}`);
  }

  /** As the engine's: the record's endpoints (each once) replaced, the container left as it is; `setReach c1 ADDR:PORT,...`. */
  async setReach(record: ContainerRecord, reach: readonly ServiceEndpoint[]): Promise<ContainerRecord> {
    this.fail('setReach');
    const c = this.get(record);
    const endpoints = [...new Map(reach.map((e) => [`${e.address}:${e.port}`, { ...e }])).values()];
    const { reach: _old, ...network } = c.record.network;
    const changed = { ...c.record, network: { ...network, ...(endpoints.length ? { reach: endpoints } : {}) } };
    this.containers.set(record.id, { ...c, record: changed });
    this.calls.push(`setReach ${record.id} ${endpoints.map((e) => `${e.address}:${e.port}`).join(',')}`);
    return changed;
  }

  async hasVolume(name: string): Promise<boolean> {
    return this.volumes.has(name);
  }

  async removeVolume(name: string): Promise<boolean> {
    const users = [...this.containers.values()].filter((c) => c.record.run.volumes?.some((v) => v.name === name));
    this.calls.push(`removeVolume ${name}${users.length ? ' in-use' : ''}`);
    if (users.length) return false;
    this.volumes.delete(name);
    return true;
  }

  async address(record: ContainerRecord): Promise<ContainerAddress | null> {
    const c = this.containers.get(record.id);
    if (!c || !c.state.running) return null;
    const ports = record.network.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort }));
    return { ip: `10.0.0.${record.id.slice(1)}`, ports };
  }

  watch(record: ContainerRecord, onChange: () => void, until: AbortSignal): void {
    if (until.aborted) return;
    const set = this.watchers.get(record.id) ?? new Set();
    this.watchers.set(record.id, set.add(onChange));
    until.addEventListener('abort', () => set.delete(onChange), { once: true });
  }

  /** Memory every container uses. */
  memoryBytes = 1024;
  /** Memory reads so far. */
  memoryReads = 0;

  async memory(): Promise<number | null> {
    this.memoryReads++;
    return this.memoryBytes;
  }

  async *logs(_record: ContainerRecord, options: { fromStart: boolean; until: AbortSignal }): AsyncIterable<string> {
    if (options.fromStart) yield* this.output;
    await new Promise<void>((resolve) => {
      if (options.until.aborted) resolve();
      options.until.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** The shim restarted the container by its restart policy. */
  restarted(id: string): void {
    const c = this.containers.get(id);
    if (c) c.state = stateOf('running', { restartCount: c.state.restartCount + 1 });
    this.changed(id);
  }

  /** The container exited with `code` (its shim restarts it later, or not). */
  exited(id: string, code: number): void {
    const c = this.containers.get(id);
    if (c) c.state = stateOf('exited', { restartCount: c.state.restartCount, exitCode: code });
    this.changed(id);
  }

  /** The ids of the containers a kind of call was made on: `made('remove')`. */
  made(kind: 'create' | 'start' | 'stop' | 'remove' | 'setReach'): string[] {
    return this.calls.filter((c) => c.startsWith(`${kind} `)).map((c) => c.split(' ')[1] as string);
  }
}

function stateOf(status: ContainerState['status'], extra: Partial<ContainerState> = {}): ContainerState {
  return {
    status,
    running: status === 'running',
    pid: status === 'running' ? 4242 : 0,
    exitCode: 0,
    oomKilled: false,
    restartCount: 0,
    ...extra,
  };
}

/** An image store whose every image is there, or whose pulls fail with `pullError`. */
export class FakeImages implements ImageStore {
  readonly pulls: string[] = [];
  pullError: Error | null = null;
  /** While set, pulls wait for it (a slow registry). */
  pullGate: Promise<void> | null = null;
  /** The images' own command (`imageCommand`). */
  own = 'node server.js';

  /** `base ref` of each bootstrap asked for. */
  readonly bootstraps: string[] = [];

  async bootstrap(ref: string, base: AddonType, onLine?: (line: string) => void): Promise<void> {
    this.bootstraps.push(`${base} ${ref}`);
    onLine?.(`Bootstrapped ${base} as ${ref}`);
  }

  async ensure(ref: string, _source: ImageSource, onLine?: (line: string) => void): Promise<void> {
    this.pulls.push(ref);
    await this.pullGate;
    if (this.pullError) throw this.pullError;
    onLine?.(`Pulled ${ref}`);
  }

  async command(): Promise<string> {
    return this.own;
  }
}

/**
 * The control plane: answers with `desired` (null when the agent echoes its version), or
 * not at all while `down`. It keeps what the agent told it as the api does: a full
 * heartbeat replaces it, a delta updates the instances it names.
 */
export class FakeControlPlane implements ControlPlane {
  private set: DesiredInstance[] = [];
  private version = 1;
  down = false;
  /** Answers every request 401 with this message (a revoked credential) while set. */
  refused: string | null = null;
  /** Requests answered, refused ones included. */
  calls = 0;
  drainMs = 2000;
  /** The next answer asks for a full report. */
  askFull = false;
  private volumes: string[] = [];
  /** Keeps asking for removed volumes (an api that has not heard yet). */
  staleVolumes = false;
  /** The registrations received. */
  readonly registrations: RegisterRequest[] = [];
  /** What the control plane knew of the node after each heartbeat. */
  readonly heartbeats: InstanceReport[][] = [];
  /** The heartbeats as sent, and whether each answer carried the set. */
  readonly requests: { request: HeartbeatRequest; sentSet: boolean }[] = [];
  private readonly known = new Map<string, InstanceReport>();

  get desired(): DesiredInstance[] {
    return this.set;
  }

  /** A new desired set, and so a new version. */
  set desired(set: DesiredInstance[]) {
    this.set = set;
    this.version++;
  }

  /**
   * Volumes of destroyed add-ons the node should remove, part of the set as the api's are: sent
   * with it (not with a "same set" answer), a new version when they change, and dropped once a
   * heartbeat says they are removed (unless `staleVolumes`).
   */
  get removeVolumes(): string[] {
    return this.volumes;
  }

  set removeVolumes(volumes: string[]) {
    this.volumes = volumes;
    this.version++;
  }

  async register(request: RegisterRequest): Promise<RegisterAnswer> {
    if (this.down) throw new ControlPlaneError(0, 'http://127.0.0.1:7000/api/nodes/register: ECONNREFUSED');
    this.calls++;
    if (this.refused !== null) throw new ControlPlaneError(401, `/api/nodes/register: 401 ${this.refused}`);
    this.registrations.push(request);
    return { node: { id: 'n1', name: request.name, state: 'up' }, heartbeatMs: 1000 };
  }

  async heartbeat(name: string, request: HeartbeatRequest): Promise<HeartbeatReply> {
    if (this.down) throw new ControlPlaneError(0, `http://127.0.0.1:7000/api/nodes/${name}/heartbeat: ECONNREFUSED`);
    this.calls++;
    if (this.refused !== null) throw new ControlPlaneError(401, `/api/nodes/${name}/heartbeat: 401 ${this.refused}`);
    if (request.full ?? true) this.known.clear();
    for (const id of request.gone ?? []) this.known.delete(id);
    for (const r of request.instances) this.known.set(r.id, r);
    const removed = new Set(request.removedVolumes);
    const left = this.volumes.filter((v) => !removed.has(v));
    if (!this.staleVolumes && left.length !== this.volumes.length) this.removeVolumes = left;
    this.heartbeats.push([...this.known.values()]);
    const desiredVersion = `v${this.version}`;
    const same = request.desiredVersion === desiredVersion;
    this.requests.push({ request, sentSet: !same });
    const fullReport = this.askFull;
    this.askFull = false;
    const common = {
      node: { id: 'n1', name, state: 'up' as const },
      registry: '127.0.0.1:5000',
      heartbeatMs: 1000,
      drainMs: this.drainMs,
      desiredVersion,
      fullReport,
    };
    if (same) return { ...common, instances: null };
    return { ...common, instances: this.set, ...(this.volumes.length ? { removeVolumes: [...this.volumes] } : {}) };
  }

  /** The last report of an instance the control plane received; undefined when the last heartbeat did not have it. */
  last(id: string): InstanceReport | undefined {
    return this.heartbeats.at(-1)?.find((r) => r.id === id);
  }
}

/** A deploy check that passes, or fails with `failure`; `runs` counts them. */
export class FakeChecker implements HealthChecker {
  failure: string | null = null;
  runs = 0;

  async run(): Promise<void> {
    this.runs++;
    if (this.failure !== null) throw new CheckFailedError(this.failure);
  }
}

/** The node's event stream: `nudge()` is the control plane nudging the node. */
export class FakeNudges implements Nudges {
  private listener: (() => void) | null = null;

  listen(onNudge: () => void): () => void {
    this.listener = onNudge;
    return () => (this.listener = null);
  }

  nudge(): void {
    this.listener?.();
  }
}

export class FakeMarks implements CheckedMarks {
  readonly marks = new Map<string, number>();

  async get(containerId: string): Promise<number | null> {
    return this.marks.get(containerId) ?? null;
  }

  async set(containerId: string, restarts: number): Promise<void> {
    this.marks.set(containerId, restarts);
  }

  async forget(containerId: string): Promise<void> {
    this.marks.delete(containerId);
  }
}

export class FakeAppLog implements AppLog {
  readonly lines: string[] = [];

  append(source: LogSource, line: string): void {
    this.lines.push(`${source.appId} ${source.name}: ${line}`);
  }
}

/** One desired instance of app `shop` (web.1 of v3), with `overrides`. */
export function desiredInstance(overrides: Partial<DesiredInstance> = {}): DesiredInstance {
  return {
    id: 'i-web-1-0000000000',
    appId: 'app-shop',
    app: 'shop',
    type: 'web',
    number: 1,
    releaseId: 'rel-3',
    version: 3,
    image: '127.0.0.1:5000/shop:v3',
    imageDigest: null,
    command: null,
    env: { PORT: '5000', DYNO: 'web.1' },
    size: 'standard-1x',
    memory: 512,
    cpuShares: 1024,
    cpuQuota: null,
    port: 5000,
    check: { kind: 'tcp', port: 5000, attempts: 3, timeoutMs: 1000, intervalMs: 250, initialDelayMs: 0 },
    stopTimeout: 30,
    ...overrides,
  };
}
