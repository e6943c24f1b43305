/**
 * The node agent: registers the node, heartbeats the state of its instances, and makes the
 * node run exactly the desired set each heartbeat answers with (libs/platform
 * scheduling/protocol.ts).
 *
 *   start        adopt the instance containers a previous agent left running (instance.ts),
 *                register, then heartbeat every `heartbeatMs`, or at once when an instance
 *                changed or the control plane nudges the node
 *   heartbeat    report the instances -> the desired set -> converge (convergence.ts) ->
 *                launch, claim, leave, or change a container's add-on reach in place; the
 *                control plane unreachable changes nothing on the node (its instances keep
 *                running) and the agent tries again. At rest
 *                a heartbeat carries only the reports that changed and gets no set back
 *                (protocol.ts) and the ids of the instances that left since; a full one
 *                every FULL_REPORT_EVERY beats, after a failed one, and when the control
 *                plane asks
 *   volumes      an answer's `removeVolumes` (named volumes of destroyed add-ons): each removed
 *                once no container uses it (its add-on's container leaves first), and named
 *                in the next heartbeat's `removedVolumes`; one that is not here counts as removed
 *   refused      the control plane refuses the node's credential (401: revoked by
 *                `nodes:remove`, or unknown): said once, and asked again only every
 *                REFUSED_RETRY_MS, not every beat: nothing but a new credential helps
 *   stop         the agent ends; the containers keep running under their shims
 *
 * Every dependency is a role (roles.ts), wired in main.ts.
 */
import {
  type DesiredInstance,
  FULL_REPORT_EVERY,
  HEARTBEAT_MAX_INSTANCES,
  type HeartbeatReply,
  type InstanceReport,
  type NodeSummary,
  reportChanged,
} from '@paas/platform';
import { AgentMetrics } from './agent-metrics';
import { ControlPlaneError } from './api-client';
import type { AgentConfig } from './config';
import { converge } from './convergence';
import { Instance, type InstanceDeps } from './instance';
import type {
  AppLog,
  CheckedMarks,
  Clock,
  ContainerRuntime,
  ControlPlane,
  HealthChecker,
  ImageSource,
  ImageStore,
  Nudges,
} from './roles';

/** Convergence runs at least this often though nothing it knows of changed. */
export const CONVERGE_EVERY_MS = 1000;

/** How often a node whose credential the control plane refuses (401) asks again. */
export const REFUSED_RETRY_MS = 60_000;

/** Whether the control plane refused the credential itself: retrying soon cannot help. */
function refusedCredential(err: unknown): err is ControlPlaneError {
  return err instanceof ControlPlaneError && err.status === 401;
}

export interface AgentDeps {
  readonly config: Pick<
    AgentConfig,
    | 'nodeName'
    | 'nodeAddress'
    | 'listen'
    | 'memory'
    | 'cpus'
    | 'overcommit'
    | 'apiUrl'
    | 'registry'
    | 'insecureRegistries'
    | 'ca'
  > &
    Partial<Pick<AgentConfig, 'instanceUserns'>>;
  /**
   * Where containers reach this node's add-ons (registered as the node's `serviceAddress`):
   * PAAS_NODE_ADDRESS, else the bridge's gateway; null runs no add-on.
   */
  readonly serviceAddress: string | null;
  readonly runtime: ContainerRuntime;
  readonly images: ImageStore;
  readonly api: ControlPlane;
  readonly checker: HealthChecker;
  readonly marks: CheckedMarks;
  /** Where instance output goes; null runs without logs. */
  readonly appLog: AppLog | null;
  /** The control plane's nudges; null heartbeats on the clock only. */
  readonly nudges: Nudges | null;
  readonly clock: Clock;
  readonly log: (line: string) => void;
}

export interface AgentOptions {
  /** Where the agent counts for Prometheus; by default its own (read through `agent.metrics`). */
  readonly metrics?: AgentMetrics;
}

export class Agent {
  readonly metrics: AgentMetrics;
  private readonly instances = new Map<string, Instance>();
  private readonly instanceDeps: InstanceDeps;
  private node: NodeSummary | null = null;
  private heartbeatMs = 1000;
  private drainMs = 2000;
  private registry: string | null = null;
  private stopped = false;
  /** Wakes the loop from its wait between heartbeats. */
  private wake = new AbortController();
  private poked = false;
  private unlisten: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private lastError = '';
  /** What the control plane has of each instance: the reports of the answered heartbeats. */
  private told = new Map<string, InstanceReport>();
  private beats = 0;
  /** The next heartbeat reports every instance (the control plane may lack something). */
  private fullNext = true;
  /** Instances that left the node since the last answered heartbeat: forgotten once one is answered. */
  private readonly left = new Set<string>();
  /** The desired set changed, or an instance left, since the last convergence; and when that was. */
  private unsettled = true;
  private convergedAt = 0;
  /** The desired set of the last answer that had one, and its version. */
  private desired: readonly DesiredInstance[] = [];
  private desiredVersion: string | undefined;
  /** Its `removeVolumes`: asked again with every answer, until removed (a leaving container may still hold one). */
  private removeVolumes: readonly string[] = [];
  /**
   * Volumes of `removeVolumes` being removed now; removed but not yet told in an answered
   * heartbeat; told, yet still asked for (an answer computed before the control plane heard):
   * told again with the next beat, without a beat of their own.
   */
  private readonly removingVolumes = new Set<string>();
  private readonly removedVolumes = new Set<string>();
  private readonly toldVolumes = new Set<string>();
  /** The last failure removing each volume: said once, not every answer that asks again. */
  private readonly volumeErrors = new Map<string, string>();

  constructor(
    private readonly deps: AgentDeps,
    options: AgentOptions = {},
  ) {
    this.metrics = options.metrics ?? new AgentMetrics(async () => (await this.status()).instances);
    this.instanceDeps = {
      metrics: this.metrics,
      runtime: deps.runtime,
      images: deps.images,
      checker: deps.checker,
      marks: deps.marks,
      appLog: deps.appLog,
      clock: deps.clock,
      log: deps.log,
      nodeName: deps.config.nodeName,
      nodeAddress: deps.config.nodeAddress,
      userns: deps.config.instanceUserns ?? 'auto',
      serviceAddress: deps.serviceAddress,
      source: () => this.source(),
      drainMs: () => this.drainMs,
      poke: () => this.poke(),
      halted: () => this.stopped,
      gone: (instance) => {
        // a new instance of the same id (claimed meanwhile) is still here: its reports say so
        if (this.instances.get(instance.id) !== instance) return;
        this.instances.delete(instance.id);
        this.left.add(instance.id);
        this.unsettled = true; // desired still, it is launched anew
      },
    };
  }

  get name(): string {
    return this.deps.config.nodeName;
  }

  /** Adopts what runs, registers, and starts heartbeating. Resolves once registered. */
  async start(): Promise<void> {
    await this.adopt();
    await this.register();
    this.unlisten = this.deps.nudges?.listen(() => this.poke());
    this.loop = this.run();
  }

  /** Stops the agent, leaving every container running under its shim. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    this.unlisten?.();
    for (const instance of this.instances.values()) instance.halt();
    await this.loop;
    await Promise.all([...this.instances.values()].map((i) => i.task?.catch(() => undefined)));
  }

  /** Asks for a heartbeat now (an instance changed, or the control plane said so). */
  poke(): void {
    this.poked = true;
    this.wake.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.poked = false;
      this.wake = new AbortController();
      const started = this.deps.clock.now();
      try {
        await this.heartbeat();
        this.metrics.pass((this.deps.clock.now() - started) / 1000);
        if (this.lastError) this.deps.log('the control plane answers again');
        this.lastError = '';
      } catch (err) {
        this.metrics.heartbeatFailed();
        this.fullNext = true; // what it carried may not have been recorded
        const message = (err as Error).message;
        if (refusedCredential(err)) {
          if (message !== this.lastError) this.deps.log(refusedLine(message));
          this.lastError = message;
          await this.waitRefused();
          continue;
        }
        if (message !== this.lastError) this.deps.log(`heartbeat: ${message}`);
        this.lastError = message;
        if (err instanceof ControlPlaneError && err.status === 404) await this.register().catch(() => undefined);
      }
      if (this.poked || this.stopped) continue;
      await this.deps.clock.sleep(this.heartbeatMs, this.wake.signal);
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
          overcommit: config.overcommit,
          version: 'paas-agent',
          ...(this.deps.serviceAddress !== null ? { serviceAddress: this.deps.serviceAddress } : {}),
        });
        this.node = answer.node;
        this.heartbeatMs = answer.heartbeatMs;
        this.deps.log(`registered as node ${answer.node.name} (${answer.node.state}) with ${config.apiUrl}`);
        return;
      } catch (err) {
        if (refusedCredential(err)) {
          if (attempt === 0 || (err as Error).message !== this.lastError)
            this.deps.log(refusedLine((err as Error).message));
          this.lastError = (err as Error).message;
          await this.waitRefused();
          continue;
        }
        if (attempt === 0 || attempt % 20 === 0) this.deps.log(`cannot register yet: ${(err as Error).message}`);
        await this.deps.clock.sleep(Math.min(250 * 2 ** attempt, 2000));
      }
    }
  }

  /** REFUSED_RETRY_MS, whatever pokes come meanwhile (an instance's changes cannot be told); a stop ends it. */
  private async waitRefused(): Promise<void> {
    const until = this.deps.clock.now() + REFUSED_RETRY_MS;
    while (!this.stopped && this.deps.clock.now() < until) {
      await this.deps.clock.sleep(until - this.deps.clock.now(), this.wake.signal);
      if (this.wake.signal.aborted) this.wake = new AbortController();
    }
  }

  /**
   * One heartbeat: report the instances (all of them, or those whose report changed, with
   * the ids of those that left), then converge on the desired set the answer gives (or the
   * one held, when it is unchanged).
   */
  private async heartbeat(): Promise<void> {
    // an id launched again is reported, not gone; ids that leave while this heartbeat is on
    // its way are told by the next one
    for (const id of this.left) if (this.instances.has(id)) this.left.delete(id);
    const left = [...this.left];
    const removedVolumes = [...this.removedVolumes];
    const reports = await Promise.all([...this.instances.values()].map((i) => i.report()));
    const full = this.fullNext || this.beats % FULL_REPORT_EVERY === 0 || left.length > HEARTBEAT_MAX_INSTANCES;
    this.fullNext = false;
    // an instance whose report did not change hands back the very one told
    const instances = full
      ? reports
      : reports.filter((r) => {
          const told = this.told.get(r.id);
          return told !== r && reportChanged(told, r);
        });
    const answer = await this.deps.api.heartbeat(this.name, {
      instances,
      full,
      // a full report lacking them says the same
      ...(!full && left.length > 0 ? { gone: left } : {}),
      ...(this.desiredVersion !== undefined ? { desiredVersion: this.desiredVersion } : {}),
      ...(removedVolumes.length > 0 ? { removedVolumes } : {}),
    });
    this.beats++;
    for (const name of removedVolumes) {
      this.removedVolumes.delete(name);
      this.toldVolumes.add(name);
    }
    for (const id of left) {
      this.left.delete(id);
      this.told.delete(id);
    }
    if (full) this.told = new Map();
    for (const r of instances) this.told.set(r.id, r);
    if (answer.fullReport) this.fullNext = true;
    this.apply(answer);
  }

  private apply(answer: HeartbeatReply): void {
    this.node = answer.node;
    this.heartbeatMs = answer.heartbeatMs;
    this.drainMs = answer.drainMs;
    this.registry = answer.registry;
    // an answer without the set says the last one holds, its volumes to remove included
    if (answer.instances !== null) {
      this.desired = answer.instances;
      this.removeVolumes = answer.removeVolumes ?? [];
      this.unsettled = true;
    }
    this.desiredVersion = answer.desiredVersion;
    this.converge();
    const asked = new Set(this.removeVolumes);
    for (const name of this.toldVolumes) if (!asked.has(name)) this.toldVolumes.delete(name);
    for (const name of this.volumeErrors.keys()) if (!asked.has(name)) this.volumeErrors.delete(name);
    for (const name of asked) this.removeVolume(name);
  }

  /**
   * Makes the node run the desired set: when it changed, when an instance left, and at least
   * every CONVERGE_EVERY_MS (a change of reach that failed is tried again). Not at every
   * answer: a scale-up's heartbeats come one after another, and each went over every instance.
   */
  private converge(): void {
    const now = this.deps.clock.now();
    if (!this.unsettled && now - this.convergedAt < CONVERGE_EVERY_MS) return;
    this.unsettled = false;
    this.convergedAt = now;
    for (const action of converge(this.desired, this.instances)) {
      if (action.kind === 'launch') {
        this.instances.set(action.desired.id, Instance.launch(this.instanceDeps, action.desired));
      } else if (action.kind === 'claim') {
        this.instances.get(action.id)?.claim(action.desired);
      } else if (action.kind === 'reach') {
        this.instances.get(action.id)?.changeReach(action.desired);
      } else {
        this.instances.get(action.id)?.leave();
      }
    }
  }

  /**
   * Removes a destroyed add-on's volume in the background, unless it is under way, or an
   * add-on of the desired set still mounts it. Refused while a container uses it (the add-on's
   * container is still leaving): a later answer asks again.
   */
  private removeVolume(name: string): void {
    if (this.removingVolumes.has(name) || this.removedVolumes.has(name)) return;
    if (this.desired.some((d) => d.addon?.volume === name)) return;
    this.removingVolumes.add(name);
    void this.deps.runtime
      .removeVolume(name)
      .then(
        (gone) => {
          if (!gone || this.stopped) return;
          this.volumeErrors.delete(name);
          this.removedVolumes.add(name);
          if (this.toldVolumes.has(name)) return;
          this.deps.log(`removed volume ${name} of a destroyed add-on`);
          this.poke();
        },
        (err: unknown) => {
          const message = (err as Error).message;
          if (this.volumeErrors.get(name) !== message) this.deps.log(`removing volume ${name}: ${message}`);
          this.volumeErrors.set(name, message);
        },
      )
      .finally(() => this.removingVolumes.delete(name));
  }

  private source(): ImageSource {
    const { config } = this.deps;
    return {
      controlPlane: this.registry ?? config.registry,
      local: config.registry,
      insecure: config.insecureRegistries,
      trust: config.ca,
    };
  }

  /** Finds the instance containers a previous agent left running and takes them over as they are. */
  private async adopt(): Promise<void> {
    for (const record of await this.deps.runtime.list()) {
      const instance = await Instance.adopt(this.instanceDeps, record);
      if (instance) this.instances.set(instance.id, instance);
    }
  }

  /** What the status socket shows. */
  async status(): Promise<{ node: NodeSummary | null; instances: InstanceReport[] }> {
    return { node: this.node, instances: await Promise.all([...this.instances.values()].map((i) => i.report())) };
  }
}

function refusedLine(message: string): string {
  return `the control plane refuses this node's credential: ${message}; asking again every ${REFUSED_RETRY_MS / 1000} s. Join the machine again (paas node join) for a new one`;
}
