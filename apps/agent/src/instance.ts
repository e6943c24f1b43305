/**
 * One instance on the node, from launch (or adoption) to removal: a container made through
 * the runtime, labelled `paas.instance` and friends, under its own paas-shim, so it outlives
 * the agent. Everything it touches is a role (roles.ts).
 *
 *   new instance   pull the image if missing -> create -> start -> follow its output into the
 *                  app's log -> run its deploy check -> up (or crashed, with why)
 *   failed         (would not pull, create, start or pass its check) reported crashed with
 *                  why, then made again after 5 s, 10 s... up to 5 min: the old container
 *                  removed, a new one created. One that can never run as asked (a config var
 *                  no environment can hold) fails once, for good.
 *   restarted by   (its shim's restart policy) checked again before it counts as up
 *   the shim
 *   left the set   stopping: wait `drainMs` (the router has already dropped it), stop signal,
 *                  SIGKILL after its stop timeout (the shim does both), remove the container
 *   adopted        a container a previous agent left: taken over as it is (no restart), up
 *                  at once when its check had passed at its current restart count, checked
 *                  again otherwise once its desired entry is known
 *
 * An add-on (`addon` in its desired entry) is an instance too, isolated like an app's: its
 * image bootstrapped from the host's binaries when missing (never pulled), its named volume
 * mounted (made if missing; removing the container never removes it), its service port
 * published on the node's service address at the add-on's fixed host port. An app's
 * instance may connect to the add-ons its `reach` names, and to no other; when its desired
 * entry names others (an add-on attached or detached), its container's reach changes in
 * place, running or not: no restart, no new container.
 */
import type { ContainerRecord, ContainerState, CreateOptions, PortMapping } from '@paas/engine';
import {
  ADDON_TYPES,
  type AddonType,
  type DesiredAddon,
  type DesiredInstance,
  type InstanceReport,
  LABELS,
  type ReportedState,
  type ServiceEndpoint,
  TENANT_PIDS_LIMIT,
  envProblem,
} from '@paas/platform';
import type { AgentMetrics } from './agent-metrics';
import { CheckFailedError } from './checks';
import { reachOf, sameReach } from './convergence';
import type { AppLog, CheckedMarks, Clock, ContainerRuntime, HealthChecker, ImageSource, ImageStore } from './roles';
import { PaasError } from '@paas/errors';

/** `unchecked`: adopted from a previous agent before its check had passed; checked once its desired entry is known. */
export type Phase = 'pulling' | 'creating' | 'unchecked' | 'checking' | 'up' | 'failed' | 'stopping';

/** A failed instance is made again after 5 s, 10 s... up to 5 min. */
const RETRY_BASE_MS = 5000;
const RETRY_MAX_MS = 300_000;

const MIB = 1024 * 1024;

/**
 * What a report reads, and how often (1,000 instances a node, a heartbeat a second at rest
 * and several while instances come and go): the container's state when its shim's directory
 * changed, and at least every STATE_READ_MS in case inotify missed it; its memory every
 * MEMORY_READ_MS (only `ps` and the dashboard show it), each instance at its own phase so the
 * reads spread out. By time, not by report: counted in reports, the busy heartbeats of a
 * scale-up read a thousand cgroups' memory.stat a second.
 */
const STATE_READ_MS = 30_000;
const MEMORY_READ_MS = 10_000;

/** An instance that can never run as asked (its config holds a NUL, an add-on this node cannot run): failed once, never retried. */
class UnrunnableError extends PaasError {
  constructor(message: string) {
    super('unprocessable', message);
  }
}

export interface InstanceDeps {
  readonly metrics: Pick<AgentMetrics, 'started' | 'startFailed' | 'checkFailed'>;
  readonly runtime: ContainerRuntime;
  readonly images: ImageStore;
  readonly checker: HealthChecker;
  readonly marks: CheckedMarks;
  /** Where instance output goes; null runs without logs. */
  readonly appLog: AppLog | null;
  readonly clock: Clock;
  readonly log: (line: string) => void;
  readonly nodeName: string;
  /** `PAAS_NODE_ADDRESS`: web ports are published on it when set. */
  readonly nodeAddress: string | null;
  /** `PAAS_INSTANCE_USERNS`: `auto` runs app instances in user namespaces, a range per app. */
  readonly userns: 'auto' | 'host';
  /** Where containers reach this node's add-ons: PAAS_NODE_ADDRESS, else the bridge's gateway. */
  readonly serviceAddress: string | null;
  /** Where release images come from now (the control plane may name its registry anew each beat). */
  source(): ImageSource;
  /** How long a leaving instance keeps serving its in-flight requests. */
  drainMs(): number;
  /** Something changed that the control plane should hear of now. */
  poke(): void;
  /** The agent is stopping: nothing fails or starts any more. */
  halted(): boolean;
  /** The instance is gone: stopped and removed. */
  gone(instance: Instance): void;
}

export class Instance {
  desired: DesiredInstance | null;
  /** What a report says besides the container's state: each change makes the next report anew (see report). */
  private _record: ContainerRecord | null;
  private _phase: Phase;
  private _error: string | null = null;
  private _address: string | null;
  /** The last report, and whether something it says changed since. */
  private last: InstanceReport | null = null;
  private changed = true;
  /** Reports begun so far: only the newest one's is kept as the last. */
  private reports = 0;
  /** The shim's restart count when the check last passed. */
  private checkedRestarts: number;
  /** Ends the log follower (and everything else) once the container is gone. */
  private abort = new AbortController();
  /** Ends a running check (the instance is leaving). */
  private checks = new AbortController();
  /** The lifecycle step under way; the next one waits for it. */
  task: Promise<void> | null = null;
  /** Failed launches or checks so far. */
  failures = 0;
  /** The last failure was one trying again cannot mend (reported `final`). */
  private permanent = false;
  private cancelRetry: (() => void) | undefined;
  /** The container's state as last read, and whether it may have changed since. */
  private state: ContainerState | null = null;
  private stale = true;
  private memoryBytes: number | null = null;
  private memoryPid = 0;
  /** When (the clock's ms) the state, and the memory, are next read though nothing changed. */
  private nextStateRead = 0;
  private nextMemoryRead = 0;
  /** The change of its container's reach under way, and the last one's failure (said once). */
  private reaching: Promise<void> | null = null;
  private reachError: string | null = null;

  private constructor(
    private readonly deps: InstanceDeps,
    readonly id: string,
    readonly appId: string,
    readonly releaseId: string,
    /** `web.1`: the source of its lines in the app's log. */
    readonly name: string,
    init: {
      desired: DesiredInstance | null;
      record: ContainerRecord | null;
      phase: Phase;
      checkedRestarts: number;
      address: string | null;
    },
  ) {
    this.desired = init.desired;
    this._record = init.record;
    this._phase = init.phase;
    this.checkedRestarts = init.checkedRestarts;
    this._address = init.address;
  }

  get record(): ContainerRecord | null {
    return this._record;
  }
  set record(record: ContainerRecord | null) {
    this._record = record;
    this.changed = true;
  }
  get phase(): Phase {
    return this._phase;
  }
  set phase(phase: Phase) {
    this._phase = phase;
    this.changed = true;
  }
  get error(): string | null {
    return this._error;
  }
  set error(error: string | null) {
    this._error = error;
    this.changed = true;
  }
  get address(): string | null {
    return this._address;
  }
  set address(address: string | null) {
    this._address = address;
    this.changed = true;
  }

  get leaving(): boolean {
    return this.phase === 'stopping';
  }

  /** A new instance: made in the background; `task` follows it. */
  static launch(deps: InstanceDeps, d: DesiredInstance): Instance {
    const instance = new Instance(deps, d.id, d.appId, d.releaseId, `${d.type}.${d.number}`, {
      desired: d,
      record: null,
      phase: 'pulling',
      checkedRestarts: 0,
      address: null,
    });
    instance.task = instance.create(d).catch((err: unknown) => instance.startFailed(err));
    return instance;
  }

  /**
   * A container a previous agent left: adopted as it is when it runs (or its shim is
   * restarting it); one stopped for good is removed (the control plane asks for a new
   * instance if it still wants one). Null for containers that are not instances, or removed.
   */
  static async adopt(deps: InstanceDeps, record: ContainerRecord): Promise<Instance | null> {
    const id = record.labels[LABELS.instance];
    const appId = record.labels[LABELS.appId];
    const releaseId = record.labels[LABELS.release];
    if (!id || !appId || !releaseId) return null;
    const { runtime, marks } = deps;
    const state = await runtime.state(record);
    if (!state.running && state.status !== 'restarting') {
      await runtime.remove(record).catch(() => undefined);
      await marks.forget(record.id).catch(() => undefined);
      return null;
    }
    const port = record.network.ports[0]?.containerPort ?? (record.labels[LABELS.type] === 'web' ? 5000 : null);
    const checked = await marks.get(record.id);
    const name = `${record.labels[LABELS.type] ?? 'process'}.${record.labels[LABELS.number] ?? '0'}`;
    const instance = new Instance(deps, id, appId, releaseId, name, {
      desired: null,
      record,
      phase: checked === state.restartCount ? 'up' : 'unchecked',
      checkedRestarts: state.restartCount,
      address: await addressOf(deps, record, port),
    });
    instance.watchState();
    instance.follow(false);
    deps.log(
      `adopted ${record.labels[LABELS.app] ?? '?'} ${name} (container ${record.id.slice(0, 12)}, pid ${state.pid})`,
    );
    return instance;
  }

  /** The add-on endpoints its container may connect to now; null while it has none. */
  get reach(): readonly ServiceEndpoint[] | null {
    return this.record ? (this.record.network.reach ?? []) : null;
  }

  /**
   * Its desired entry names other add-on endpoints than its container has: the container's
   * change in place (convergence.ts). One change at a time; a newer entry arriving meanwhile
   * is taken when it ends. A failure is said once and tried again at the next convergence.
   */
  changeReach(d: DesiredInstance): void {
    this.desired = d;
    if (this.reaching) return;
    this.reaching = this.syncReach().finally(() => (this.reaching = null));
  }

  private async syncReach(): Promise<void> {
    for (;;) {
      const record = this.record;
      const d = this.desired;
      if (!record || !d || this.leaving || this.deps.halted()) return;
      const wanted = reachOf(d);
      if (sameReach(record.network.reach ?? [], wanted)) return;
      try {
        const changed = await this.deps.runtime.setReach(record, wanted);
        // a container made anew meanwhile (a retry) was created with the entry's endpoints
        if (this.record !== record) return;
        this.record = changed;
        this.reachError = null;
      } catch (err) {
        if (this.leaving) return; // removed meanwhile: nothing left to change
        const message = (err as Error).message;
        if (message !== this.reachError) this.deps.log(`${d.app} ${this.name}: changing its add-on reach: ${message}`);
        this.reachError = message;
        return;
      }
    }
  }

  /** An adopted instance learns it is desired: checked now if its check had not passed. */
  claim(d: DesiredInstance): void {
    this.desired = d;
    this.changed = true; // a restart seen before it was desired is checked now, and said
    if (this.phase === 'unchecked') this.check('it was adopted before its check had passed');
  }

  /**
   * What the instance is now, from its phase and its container's state. Made anew only when
   * something it says may have changed (a phase, an error, the container's state marked stale
   * or due for its periodic read, the memory due): every heartbeat asks each instance, and at
   * a thousand instances making them all anew each beat was most of a beat.
   */
  async report(): Promise<InstanceReport> {
    if (this.last && !this.changed && !this.due(this.deps.clock.now())) return this.last;
    this.changed = false; // a change while this one reads makes the next one anew
    const seq = ++this.reports;
    let report: InstanceReport;
    try {
      report = await this.makeReport();
    } catch (err) {
      this.changed = true; // what changed is still to be told
      throw err;
    }
    if (seq === this.reports) this.last = report;
    // reports under way at once (the status socket's beside a heartbeat's) may each have read
    // older state than the other: the next one is made anew
    else this.changed = true;
    return report;
  }

  /** Whether a report would read the container's state or memory again. */
  private due(now: number): boolean {
    const reads = this._record !== null && (this.stale || now >= this.nextStateRead);
    return reads || (this.memoryPid !== 0 && now >= this.nextMemoryRead);
  }

  private async makeReport(): Promise<InstanceReport> {
    let state: ReportedState;
    let pid = 0;
    let memoryBytes: number | null = null;
    let restartCount = 0;
    let error = this.error;
    if (this.phase === 'stopping') state = 'stopping';
    else if (this.phase === 'failed') state = 'crashed';
    else if (!this.record || this.phase === 'pulling' || this.phase === 'creating') state = 'starting';
    else {
      const st = await this.currentState(this.record);
      restartCount = st.restartCount;
      if (st.running) {
        pid = st.pid;
        memoryBytes = await this.currentMemory(st.pid);
        if (this.phase === 'up' && restartCount !== this.checkedRestarts) this.check('it was restarted');
        state = this.phase === 'up' ? 'up' : 'starting';
        if (state === 'up') error = null;
      } else {
        state = 'crashed';
        const why = st.oomKilled ? 'was killed for using too much memory' : `exited with code ${st.exitCode}`;
        error = `${why}${st.status === 'restarting' ? '; restarting' : ''}`;
      }
    }
    return {
      id: this.id,
      releaseId: this.releaseId,
      state,
      containerId: this.record?.id ?? null,
      address: this.address,
      pid,
      memoryBytes,
      restartCount,
      error: error?.slice(0, 2000) ?? null,
      ...(this.phase === 'failed' && this.permanent ? { final: true } : {}),
    };
  }

  /** The container's state: read again when its shim wrote something, or now and then. */
  private async currentState(record: ContainerRecord): Promise<ContainerState> {
    const now = this.deps.clock.now();
    if (this.state && !this.stale && now < this.nextStateRead) return this.state;
    // the periodic reads of instances launched together spread out from the second on
    this.nextStateRead = now + (this.state ? STATE_READ_MS : phaseOf(this.id) % STATE_READ_MS);
    this.stale = false; // a change during the read marks it stale again
    const state = await this.deps.runtime.state(record);
    if (this.record === record) this.state = state;
    return state;
  }

  /** Its memory, read every MEMORY_READ_MS (and whenever its init changed). */
  private async currentMemory(pid: number): Promise<number | null> {
    const now = this.deps.clock.now();
    if (this.memoryPid === pid && now < this.nextMemoryRead) return this.memoryBytes;
    // a new init is read at once; then each instance at a phase of its own, so reads spread out
    this.nextMemoryRead = now + (this.memoryPid === pid ? MEMORY_READ_MS : phaseOf(this.id) % MEMORY_READ_MS);
    this.memoryPid = pid;
    this.memoryBytes = await this.deps.runtime.memory(pid);
    return this.memoryBytes;
  }

  /** Marks the state stale whenever the container's shim writes, until the container goes. */
  private watchState(): void {
    const record = this.record;
    this.state = null;
    this.stale = true;
    if (record) this.deps.runtime.watch(record, () => (this.stale = true), this.abort.signal);
  }

  /** The agent stops: timers and followers end, the container keeps running. */
  halt(): void {
    this.cancelRetry?.();
    this.checks.abort();
    this.abort.abort();
  }

  /** Pulling, creating or starting it failed. */
  private startFailed(err: unknown): void {
    if (this.phase !== 'stopping' && !this.deps.halted()) this.deps.metrics.startFailed();
    this.failed((err as Error).message, err instanceof UnrunnableError);
  }

  /**
   * The instance cannot run: reported crashed (a deploy then fails, and the control plane
   * drops it), and made again later in case the cause passes (a registry that was away).
   */
  private failed(message: string, permanent = false): void {
    if (this.phase === 'stopping' || this.deps.halted()) return;
    this.phase = 'failed';
    this.error = message;
    this.permanent = permanent;
    this.failures++;
    if (permanent) {
      // trying again cannot help: the deploy fails with this reason (the release's deployError)
      this.deps.log(`${this.desired?.app ?? ''} ${this.name}: ${message}; not trying again`);
      this.deps.poke();
      return;
    }
    const delay = Math.min(RETRY_BASE_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
    const what = this.desired ? `${this.desired.app} ${this.name} (v${this.desired.version})` : this.name;
    this.deps.log(`${what}: ${message}; trying again in ${delay / 1000} s`);
    this.cancelRetry?.();
    this.cancelRetry = this.deps.clock.after(delay, () => this.again());
    this.deps.poke();
  }

  /** A failed instance made again: its old container removed, a new one created. */
  private again(): void {
    const d = this.desired;
    if (this.phase !== 'failed' || !d || this.deps.halted()) return;
    const record = this.record;
    this.phase = 'pulling';
    this.error = null;
    this.abort.abort();
    this.abort = new AbortController();
    this.record = null;
    this.address = null;
    this.task = (async () => {
      if (record) {
        await this.deps.runtime.remove(record);
        await this.deps.marks.forget(record.id);
      }
      if (this.leaving) return;
      await this.create(d);
    })().catch((err: unknown) => this.startFailed(err));
    this.deps.poke();
  }

  private async create(d: DesiredInstance): Promise<void> {
    const { runtime, images } = this.deps;
    const unrunnable = envProblem(d.env);
    if (unrunnable !== null) throw new UnrunnableError(unrunnable);
    const service = d.addon ? this.addonService(d, d.addon) : null;
    // a new volume would be an empty database under the add-on's name: only a fresh add-on gets one
    if (d.addon && !d.addon.fresh && !(await runtime.hasVolume(d.addon.volume))) {
      throw new UnrunnableError(
        `add-on ${d.addon.name}: its volume ${d.addon.volume} is gone from this node; its data cannot be recovered here (restore a backup into a new add-on)`,
      );
    }
    const onLine = (line: string): void => this.deps.log(line);
    // the phase changes under us when the instance leaves the desired set meanwhile
    if (service) await images.bootstrap(d.image, service.type, onLine);
    else await images.ensure(d.image, this.deps.source(), onLine);
    if (this.leaving) return;
    this.phase = 'creating';
    this.record = await runtime.create(d.image, await this.createOptions(d, service?.port ?? null));
    if (this.leaving) return;
    await runtime.start(this.record);
    this.deps.metrics.started();
    this.watchState();
    this.address = await addressOf(this.deps, this.record, d.port);
    this.follow(true);
    if (this.leaving) return;
    this.check(null);
    this.deps.poke();
  }

  /** The add-on's type and its service port as published on the service address; UnrunnableError when this node cannot. */
  private addonService(d: DesiredInstance, addon: DesiredAddon): { type: AddonType; port: PortMapping } {
    const type = ADDON_TYPES.find((t) => t === addon.type);
    if (type === undefined) {
      throw new UnrunnableError(`add-on ${addon.name}: unknown type ${addon.type} (${ADDON_TYPES.join(', ')})`);
    }
    if (d.port === null) throw new UnrunnableError(`add-on ${addon.name}: no service port`);
    const hostIp = this.deps.serviceAddress;
    if (hostIp === null) throw new UnrunnableError(`add-on ${addon.name}: this node has no service address`);
    return { type, port: { hostIp, hostPort: addon.hostPort, containerPort: d.port, protocol: 'tcp' } };
  }

  /** The container of desired instance `d`: an app's instance, or an add-on's service publishing `addonPort`. */
  private async createOptions(d: DesiredInstance, addonPort: PortMapping | null): Promise<CreateOptions> {
    const own = d.command === null || d.command === (await this.deps.images.command(d.image));
    const nodeAddress = this.deps.nodeAddress;
    const addon = addonPort ? d.addon : undefined;
    return {
      name: `${d.app}.${d.type}.${d.number}.${d.id.slice(0, 8)}`,
      hostname: `${d.app}-${d.type}-${d.number}`.slice(0, 63),
      labels: {
        [LABELS.app]: d.app,
        [LABELS.appId]: d.appId,
        [LABELS.instance]: d.id,
        [LABELS.release]: d.releaseId,
        [LABELS.version]: String(d.version),
        [LABELS.type]: d.type,
        [LABELS.number]: String(d.number),
        [LABELS.node]: this.deps.nodeName,
        ...(addon ? { [LABELS.addon]: addon.name } : {}),
      },
      network: 'bridge',
      ports: addonPort
        ? [addonPort]
        : d.port !== null && nodeAddress
          ? [{ hostIp: nodeAddress, hostPort: 0, containerPort: d.port, protocol: 'tcp' }]
          : [],
      // an add-on reaches no other; an app's instance the add-ons it is attached to
      reach: reachOf(d),
      // root in an app's instance is an unprivileged host id, the same for all its instances
      // (a range per app: its files keep one owner across deploys) and no other app's. Add-ons
      // are the platform's own images and keep the host's ids.
      ...(this.deps.userns === 'auto' && !addon ? { userns: { mode: 'auto', key: `app-${d.appId}` } } : {}),
      restart: 'always',
      stopTimeout: d.stopTimeout,
      run: {
        ...(own ? {} : { entrypoint: ['/bin/sh', '-c'], cmd: [d.command as string] }),
        env: Object.entries(d.env).map(([k, v]) => `${k}=${v}`),
        binds: [],
        // the add-on's data: made on first use, kept when the container goes
        ...(addon ? { volumes: [{ name: addon.volume, destination: addon.target, readonly: false }] } : {}),
        // CPU is shared by weight; only a size that asks for it gets a hard limit
        resources: {
          memory: d.memory * MIB,
          cpuShares: d.cpuShares,
          ...(d.cpuQuota !== null ? { cpus: d.cpuQuota / 1000 } : {}),
          pidsLimit: TENANT_PIDS_LIMIT,
        },
        init: true,
      },
    };
  }

  /** Runs the deploy check (again, after a restart); the instance is up once it passes. */
  private check(why: string | null): void {
    const d = this.desired;
    const record = this.record;
    if (!d || !record || this.phase === 'checking' || this.phase === 'stopping') return;
    this.phase = 'checking';
    this.checks = new AbortController();
    const signal = this.checks.signal;
    const { runtime, log } = this.deps;
    const task = (async () => {
      const state = await runtime.state(record);
      const restarts = state.restartCount;
      const address = await runtime.address(record);
      if (why) log(`${d.app} ${this.name}: checking it again: ${why}`);
      try {
        await this.deps.checker.run(
          d.check,
          address?.ip ?? '127.0.0.1',
          async () => {
            const st = await runtime.state(record);
            if (st.running) return null;
            return st.oomKilled ? 'was killed for using too much memory' : `exited with code ${st.exitCode}`;
          },
          signal,
        );
        if (this.phase !== 'checking') return;
        this.phase = 'up';
        this.error = null;
        this.checkedRestarts = restarts;
        this.failures = 0;
        await this.deps.marks.set(record.id, restarts).catch(() => undefined);
      } catch (err) {
        if (this.phase !== 'checking') return;
        this.deps.metrics.checkFailed();
        this.failed(err instanceof CheckFailedError ? err.message : `check: ${(err as Error).message}`);
        return;
      }
      this.deps.poke();
    })();
    this.task = (this.task ?? Promise.resolve()).then(() => task);
  }

  /** Copies the container's output into the app's log until the instance goes. */
  private follow(fromStart: boolean): void {
    const { appLog, runtime } = this.deps;
    const record = this.record;
    if (!appLog || !record) return;
    const until = this.abort.signal;
    void (async () => {
      try {
        for await (const line of runtime.logs(record, { fromStart, until })) appLog.append(this, line);
      } catch (err) {
        if (!until.aborted) this.deps.log(`logs of ${this.name}: ${(err as Error).message}`);
      }
    })();
  }

  /** The instance left the desired set: drain, stop gracefully, remove. */
  leave(): void {
    const before = this.task;
    this.phase = 'stopping';
    this.checks.abort();
    this.cancelRetry?.();
    this.task = (async () => {
      await before?.catch(() => undefined);
      await this.deps.clock.sleep(this.deps.drainMs());
      const record = this.record;
      if (record) {
        const { runtime, log } = this.deps;
        const timeout = this.desired?.stopTimeout ?? record.stopTimeout;
        try {
          await runtime.stop(record, timeout);
        } catch (err) {
          log(`stopping ${this.name}: ${(err as Error).message}`);
        }
        this.abort.abort();
        await runtime.remove(record).catch((err: unknown) => {
          log(`removing ${this.name}: ${(err as Error).message}`);
        });
        await this.deps.marks.forget(record.id);
      }
      this.abort.abort();
      this.deps.gone(this);
      this.deps.poke();
    })();
  }
}

/** A number of the instance's own in 0..2^16, to spread its periodic reads apart from the others'. */
function phaseOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) & 0xffff;
  return h;
}

/**
 * Where the instance is reached: the published port on the node (an add-on's on the service
 * address, where the apps attached to it connect), or the bridge address.
 */
async function addressOf(deps: InstanceDeps, record: ContainerRecord, port: number | null): Promise<string | null> {
  if (port === null) return null;
  const lease = await deps.runtime.address(record);
  if (!lease) return null;
  const published = lease.ports.find((p) => p.containerPort === port);
  const host = record.labels[LABELS.addon] !== undefined ? deps.serviceAddress : deps.nodeAddress;
  return host && published ? `${host}:${published.hostPort}` : `${lease.ip}:${port}`;
}
