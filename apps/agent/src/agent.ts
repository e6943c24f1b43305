/**
 * The node agent: registers the node, heartbeats the state of its instances, and makes the
 * node run exactly the desired set each heartbeat answers with (libs/platform
 * scheduling/protocol.ts).
 *
 * Each instance is a container made through the engine, labelled `paas.instance` and friends,
 * under its own paas-shim: the containers outlive the agent. A restarted agent finds them by
 * their labels and adopts them as they are (no restart), follows their logs again, and reports
 * them; the control plane's answer then says which to keep.
 *
 *   new instance   pull the image if missing -> create -> start -> follow its output into the
 *                  app's log stream -> run its deploy check -> up (or crashed, with why)
 *   left the set   stopping: wait `drainMs` (the router has already dropped it), stop signal,
 *                  SIGKILL after its stop timeout (the shim does both), remove the container
 *   restarted by   (its shim's restart policy) checked again before it counts as up
 *   the shim
 */
import { type ContainerRecord, type Engine, readLogs, readStats } from '@paas/engine';
import {
  type DesiredInstance,
  type HeartbeatAnswer,
  type InstanceReport,
  LABELS,
  type NodeSummary,
  type ReportedState,
  TENANT_PIDS_LIMIT,
  envProblem,
  imageCommand,
  nodeChannel,
  writeAppLog,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient, ApiError } from './api-client';
import { CheckFailedError, runCheck } from './checks';
import type { AgentConfig } from './config';
import type { NodeImages } from './images';

/** `unchecked`: adopted from a previous agent before its check had passed; checked once its desired entry is known. */
type Phase = 'pulling' | 'creating' | 'unchecked' | 'checking' | 'up' | 'failed' | 'stopping';

interface LocalInstance {
  readonly id: string;
  readonly appId: string;
  readonly releaseId: string;
  /** `web.1`: the source of its lines in the app's log. */
  readonly name: string;
  desired: DesiredInstance | null;
  record: ContainerRecord | null;
  phase: Phase;
  error: string | null;
  /** The shim's restart count when the check last passed. */
  checkedRestarts: number;
  address: string | null;
  /** Ends the log follower (and everything else) once the container is gone. */
  abort: AbortController;
  /** Ends a running check (the instance is leaving). */
  checks: AbortController;
  task: Promise<void> | null;
  /** Failed launches or checks so far, and the timer of the next try. */
  failures: number;
  retry: NodeJS.Timeout | undefined;
}

const MIB = 1024 * 1024;

/** An instance that can never run as asked (a config var no environment can hold): no retry. */
class UnrunnableError extends Error {}

/** A failed instance (its image would not pull, it would not start or pass its check) is made again after 5 s, 10 s... up to 5 min. */
const RETRY_BASE_MS = 5000;
const RETRY_MAX_MS = 300_000;

export interface AgentDeps {
  readonly config: AgentConfig;
  readonly engine: Engine;
  readonly images: NodeImages;
  /** For instance output; null runs without logs. */
  readonly redis: Redis | null;
  readonly api: ApiClient;
  readonly log: (line: string) => void;
}

export class Agent {
  private readonly locals = new Map<string, LocalInstance>();
  private node: NodeSummary | null = null;
  private heartbeatMs = 1000;
  private drainMs = 2000;
  private registry: string | null = null;
  private stopped = false;
  private wake: (() => void) | undefined;
  private poked = false;
  private subscriber: Redis | undefined;
  private loop: Promise<void> | undefined;
  private lastError = '';

  constructor(private readonly deps: AgentDeps) {}

  get name(): string {
    return this.deps.config.nodeName;
  }

  /** Adopts what runs, registers, and starts heartbeating. Resolves once registered. */
  async start(): Promise<void> {
    await this.adopt();
    await this.register();
    if (this.deps.redis) {
      const subscriber = this.deps.redis.duplicate();
      this.subscriber = subscriber;
      subscriber.on('message', () => this.poke());
      subscriber.on('error', () => undefined);
      await subscriber.subscribe(nodeChannel(this.name)).catch((err: unknown) => {
        this.deps.log(`cannot subscribe to ${nodeChannel(this.name)} (heartbeats only): ${(err as Error).message}`);
      });
    }
    this.loop = this.run();
  }

  /** Stops the agent, leaving every container running under its shim. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.subscriber?.disconnect();
    for (const local of this.locals.values()) {
      clearTimeout(local.retry);
      local.checks.abort();
      local.abort.abort();
    }
    await this.loop;
    await Promise.all([...this.locals.values()].map((l) => l.task?.catch(() => undefined)));
  }

  /** Asks for a heartbeat now (an instance changed, or the control plane said so). */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.poked = false;
      try {
        await this.beat();
        if (this.lastError) this.deps.log('the control plane answers again');
        this.lastError = '';
      } catch (err) {
        const message = (err as Error).message;
        if (message !== this.lastError) this.deps.log(`heartbeat: ${message}`);
        this.lastError = message;
        if (err instanceof ApiError && err.status === 404) await this.register().catch(() => undefined);
      }
      if (this.poked || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.heartbeatMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async register(): Promise<void> {
    const { config } = this.deps;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const answer = await this.deps.api.register({
          name: config.nodeName,
          address: config.nodeAddress ?? config.listen.host,
          memory: config.memory,
          cpus: config.cpus,
          version: 'paas-agent',
        });
        this.node = answer.node;
        this.heartbeatMs = answer.heartbeatMs;
        this.deps.log(`registered as node ${answer.node.name} (${answer.node.state}) with ${config.apiUrl}`);
        return;
      } catch (err) {
        if (attempt === 0 || attempt % 20 === 0) this.deps.log(`cannot register yet: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
      }
    }
  }

  private async beat(): Promise<void> {
    const reports = await Promise.all([...this.locals.values()].map((l) => this.report(l)));
    const answer = await this.deps.api.heartbeat(this.name, { instances: reports });
    this.apply(answer);
  }

  /** What an instance is now, from its phase and its container's state. */
  private async report(local: LocalInstance): Promise<InstanceReport> {
    let state: ReportedState;
    let pid = 0;
    let memoryBytes: number | null = null;
    let restartCount = 0;
    let error = local.error;
    if (local.phase === 'stopping') state = 'stopping';
    else if (local.phase === 'failed') state = 'crashed';
    else if (!local.record || local.phase === 'pulling' || local.phase === 'creating') state = 'starting';
    else {
      const st = await this.deps.engine.state(local.record);
      restartCount = st.restartCount;
      if (st.running) {
        pid = st.pid;
        memoryBytes = await readStats(st.pid).then(
          (s) => s.memoryUsage,
          () => null,
        );
        if (local.phase === 'up' && restartCount !== local.checkedRestarts) this.check(local, 'it was restarted');
        state = local.phase === 'up' ? 'up' : 'starting';
        if (state === 'up') error = null;
      } else {
        state = 'crashed';
        const why = st.oomKilled ? 'was killed for using too much memory' : `exited with code ${st.exitCode}`;
        error = `${why}${st.status === 'restarting' ? '; restarting' : ''}`;
      }
    }
    return {
      id: local.id,
      releaseId: local.releaseId,
      state,
      containerId: local.record?.id ?? null,
      address: local.address,
      pid,
      memoryBytes,
      restartCount,
      error: error?.slice(0, 2000) ?? null,
    };
  }

  private apply(answer: HeartbeatAnswer): void {
    this.node = answer.node;
    this.heartbeatMs = answer.heartbeatMs;
    this.drainMs = answer.drainMs;
    this.registry = answer.registry;
    const wanted = new Map(answer.instances.map((d) => [d.id, d]));
    for (const d of answer.instances) {
      const local = this.locals.get(d.id);
      if (!local) this.launch(d);
      else if (!local.desired) {
        local.desired = d;
        if (local.phase === 'unchecked') this.check(local, 'it was adopted before its check had passed');
      }
    }
    for (const local of this.locals.values()) {
      if (!wanted.has(local.id) && local.phase !== 'stopping') this.leave(local);
    }
  }

  private source(): { controlPlane: string; local: string; insecure: readonly string[] } {
    const { config } = this.deps;
    return {
      controlPlane: this.registry ?? config.registry,
      local: config.registry,
      insecure: config.insecureRegistries,
    };
  }

  private launch(d: DesiredInstance): void {
    const local: LocalInstance = {
      id: d.id,
      appId: d.appId,
      releaseId: d.releaseId,
      name: `${d.type}.${d.number}`,
      desired: d,
      record: null,
      phase: 'pulling',
      error: null,
      checkedRestarts: 0,
      address: null,
      abort: new AbortController(),
      checks: new AbortController(),
      task: null,
      failures: 0,
      retry: undefined,
    };
    this.locals.set(d.id, local);
    local.task = this.create(local, d).catch((err: unknown) =>
      this.failed(local, (err as Error).message, err instanceof UnrunnableError),
    );
  }

  /**
   * The instance cannot run: reported crashed (a deploy then fails, and the control plane
   * drops it), and made again later in case the cause passes (a registry that was away).
   */
  private failed(local: LocalInstance, message: string, permanent = false): void {
    if (local.phase === 'stopping' || this.stopped) return;
    local.phase = 'failed';
    local.error = message;
    local.failures++;
    if (permanent) {
      // trying again cannot help: the deploy fails with this reason (the release's deployError)
      this.deps.log(`${local.desired?.app ?? ''} ${local.name}: ${message}; not trying again`);
      this.poke();
      return;
    }
    const delay = Math.min(RETRY_BASE_MS * 2 ** (local.failures - 1), RETRY_MAX_MS);
    const what = local.desired ? `${local.desired.app} ${local.name} (v${local.desired.version})` : local.name;
    this.deps.log(`${what}: ${message}; trying again in ${delay / 1000} s`);
    clearTimeout(local.retry);
    local.retry = setTimeout(() => void this.again(local), delay);
    local.retry.unref();
    this.poke();
  }

  private async again(local: LocalInstance): Promise<void> {
    const d = local.desired;
    if (local.phase !== 'failed' || !d || this.stopped) return;
    const record = local.record;
    local.phase = 'pulling';
    local.error = null;
    local.abort.abort();
    local.abort = new AbortController();
    local.record = null;
    local.address = null;
    local.task = (async () => {
      if (record) {
        await this.deps.engine.remove(record, { force: true });
        await rm(this.checkedPath(record.id), { force: true });
      }
      if (local.phase === 'stopping') return;
      await this.create(local, d);
    })().catch((err: unknown) => this.failed(local, (err as Error).message, err instanceof UnrunnableError));
    this.poke();
  }

  private async create(local: LocalInstance, d: DesiredInstance): Promise<void> {
    const { engine, config } = this.deps;
    const unrunnable = envProblem(d.env);
    if (unrunnable !== null) throw new UnrunnableError(unrunnable);
    // the phase changes under us when the instance leaves the desired set meanwhile
    const leaving = (): boolean => local.phase === 'stopping';
    await this.deps.images.ensure(d.image, this.source(), (line) => this.deps.log(line));
    if (leaving()) return;
    local.phase = 'creating';
    const image = await engine.images.resolve(d.image);
    const own = d.command === null || d.command === imageCommand(image.config.config);
    local.record = await engine.create(d.image, {
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
        [LABELS.node]: this.name,
      },
      network: 'bridge',
      ports:
        d.port !== null && config.nodeAddress
          ? [{ hostIp: config.nodeAddress, hostPort: 0, containerPort: d.port, protocol: 'tcp' }]
          : [],
      restart: 'always',
      stopTimeout: d.stopTimeout,
      run: {
        ...(own ? {} : { entrypoint: ['/bin/sh', '-c'], cmd: [d.command as string] }),
        env: Object.entries(d.env).map(([k, v]) => `${k}=${v}`),
        binds: [],
        resources: { memory: d.memory * MIB, cpus: d.cpu / 1000, pidsLimit: TENANT_PIDS_LIMIT },
        init: true,
      },
    });
    if (leaving()) return;
    await engine.start(local.record);
    local.address = await this.addressOf(local.record, d.port);
    this.follow(local, true);
    if (leaving()) return;
    this.check(local, null);
    this.poke();
  }

  /** Where the router reaches the instance: the published port on the node, or the bridge address. */
  private async addressOf(record: ContainerRecord, port: number | null): Promise<string | null> {
    if (port === null) return null;
    const lease = (await this.deps.engine.networkLeases())[record.id];
    if (!lease) return null;
    const published = lease.ports.find((p) => p.containerPort === port);
    const node = this.deps.config.nodeAddress;
    return node && published ? `${node}:${published.hostPort}` : `${lease.ip}:${port}`;
  }

  /** Runs the deploy check (again, after a restart); the instance is up once it passes. */
  private check(local: LocalInstance, why: string | null): void {
    const d = local.desired;
    const record = local.record;
    if (!d || !record || local.phase === 'checking' || local.phase === 'stopping') return;
    local.phase = 'checking';
    local.checks = new AbortController();
    const signal = local.checks.signal;
    const { engine } = this.deps;
    const task = (async () => {
      const state = await engine.state(record);
      const restarts = state.restartCount;
      const lease = (await engine.networkLeases())[record.id];
      if (why) this.deps.log(`${d.app} ${local.name}: checking it again: ${why}`);
      try {
        await runCheck(
          d.check,
          lease?.ip ?? '127.0.0.1',
          async () => {
            const st = await engine.state(record);
            if (st.running) return null;
            return st.oomKilled ? 'was killed for using too much memory' : `exited with code ${st.exitCode}`;
          },
          signal,
        );
        if (local.phase !== 'checking') return;
        local.phase = 'up';
        local.error = null;
        local.checkedRestarts = restarts;
        local.failures = 0;
        await this.markChecked(record.id, restarts);
      } catch (err) {
        if (local.phase !== 'checking') return;
        this.failed(local, err instanceof CheckFailedError ? err.message : `check: ${(err as Error).message}`);
        return;
      }
      this.poke();
    })();
    local.task = (local.task ?? Promise.resolve()).then(() => task);
  }

  /** Copies the container's output into the app's log stream until the instance goes. */
  private follow(local: LocalInstance, fromStart: boolean): void {
    const { redis, engine } = this.deps;
    const record = local.record;
    if (!redis || !record) return;
    const until = new Promise<void>((resolve) =>
      local.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    void (async () => {
      try {
        for await (const line of readLogs(engine.logPath(record), {
          follow: true,
          until,
          ...(fromStart ? {} : { tail: 0 }),
        })) {
          await writeAppLog(redis, local.appId, local.name, line.text);
        }
      } catch (err) {
        if (!local.abort.signal.aborted) this.deps.log(`logs of ${local.name}: ${(err as Error).message}`);
      }
    })();
  }

  /** The instance left the desired set: drain, stop gracefully, remove. */
  private leave(local: LocalInstance): void {
    const before = local.task;
    local.phase = 'stopping';
    local.checks.abort();
    clearTimeout(local.retry);
    local.task = (async () => {
      await before?.catch(() => undefined);
      await new Promise((r) => setTimeout(r, this.drainMs));
      const record = local.record;
      if (record) {
        const { engine } = this.deps;
        const timeout = local.desired?.stopTimeout ?? record.stopTimeout;
        try {
          await engine.stop(record, timeout);
        } catch (err) {
          this.deps.log(`stopping ${local.name}: ${(err as Error).message}`);
        }
        local.abort.abort();
        await engine.remove(record, { force: true }).catch((err: unknown) => {
          this.deps.log(`removing ${local.name}: ${(err as Error).message}`);
        });
        await rm(this.checkedPath(record.id), { force: true });
      }
      local.abort.abort();
      this.locals.delete(local.id);
      this.poke();
    })();
  }

  /** Finds the instance containers a previous agent left running and takes them over as they are. */
  private async adopt(): Promise<void> {
    const { engine } = this.deps;
    for (const record of await engine.containers.list()) {
      const id = record.labels[LABELS.instance];
      const appId = record.labels[LABELS.appId];
      const releaseId = record.labels[LABELS.release];
      if (!id || !appId || !releaseId) continue;
      const state = await engine.state(record);
      if (!state.running && state.status !== 'restarting') {
        // stopped for good: nothing of it to keep (the control plane asks for a new one if it wants it)
        await engine.remove(record, { force: true }).catch(() => undefined);
        await rm(this.checkedPath(record.id), { force: true });
        continue;
      }
      const port = record.network.ports[0]?.containerPort ?? (record.labels[LABELS.type] === 'web' ? 5000 : null);
      const checked = await this.checkedAt(record.id);
      const local: LocalInstance = {
        id,
        appId,
        releaseId,
        name: `${record.labels[LABELS.type] ?? 'process'}.${record.labels[LABELS.number] ?? '0'}`,
        desired: null,
        record,
        phase: checked === state.restartCount ? 'up' : 'unchecked',
        error: null,
        checkedRestarts: state.restartCount,
        address: await this.addressOf(record, port),
        abort: new AbortController(),
        checks: new AbortController(),
        task: null,
        failures: 0,
        retry: undefined,
      };
      this.locals.set(id, local);
      this.follow(local, false);
      this.deps.log(
        `adopted ${record.labels[LABELS.app] ?? '?'} ${local.name} (container ${record.id.slice(0, 12)}, pid ${state.pid})`,
      );
    }
  }

  /** Where the agent notes that a container passed its check (and at which restart count): survives agent restarts. */
  private checkedPath(containerId: string): string {
    return join(this.deps.config.paths.run, 'agent', 'checked', containerId);
  }

  private async markChecked(containerId: string, restarts: number): Promise<void> {
    await mkdir(join(this.deps.config.paths.run, 'agent', 'checked'), { recursive: true });
    await writeFile(this.checkedPath(containerId), String(restarts)).catch(() => undefined);
  }

  private async checkedAt(containerId: string): Promise<number | null> {
    const text = await readFile(this.checkedPath(containerId), 'utf8').catch(() => null);
    return text !== null && /^\d+$/.test(text) ? Number(text) : null;
  }

  /** What the status socket shows. */
  async status(): Promise<{ node: NodeSummary | null; instances: InstanceReport[] }> {
    return { node: this.node, instances: await Promise.all([...this.locals.values()].map((l) => this.report(l))) };
  }
}
