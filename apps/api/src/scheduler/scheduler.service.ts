/**
 * The scheduler: turns releases x formation into instances on nodes, and instances into the
 * route table. One reconcile pass (run every PAAS_RECONCILE_MS, and at once after a change):
 *
 *   1. nodes silent for PAAS_NODE_TIMEOUT are marked down; their instances are dropped (the
 *      plan then places replacements on the other nodes)
 *   2. each app is planned (libs/platform scheduling/plan.ts): start, stop, go live, fail
 *   3. the plan is committed in one transaction (going live and failing through the release
 *      lifecycle: a release that moved on meanwhile, superseded by a rollback, makes the pass
 *      commit nothing, and the next pass plans again)
 *   4. the route table gets each app's healthy web instances of its live release (stopped ones
 *      leave it here, before their agent is told: scale-down drains first)
 *   5. the agents whose desired set changed are woken through Redis
 *
 * Passes and heartbeats run one at a time (`serial`), so the plan always sees what the last
 * heartbeat wrote. One control plane per database: passes are not coordinated across processes.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  type Allocation,
  App,
  type AppPlan,
  Domain,
  Formation,
  Instance,
  Node,
  type NodeCapacity,
  type PlanRelease,
  Release,
  ReleaseTransitionError,
  currentRelease,
  liveRelease,
  nodeChannel,
  planApp,
  releaseFailed,
  releaseLive,
  releaseWaiting,
  routeCheck,
  transaction,
  SCHEDULER_KICK_CHANNEL,
  writeAppLog,
} from '@paas/platform';
import { type Backend, readRouteTable, removeAppRoutes, setAppRoutes } from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';

/** The source of the scheduler's lines in an app's log. */
export const SCHEDULER_LOG_SOURCE = 'scheduler';

export interface LineEvent {
  readonly appId: string;
  readonly line: string;
}

export interface SettledEvent {
  readonly appId: string;
  readonly releaseId: string;
  readonly version: number;
  readonly status: 'live' | 'failed';
  readonly reason: string | null;
}

const instanceName = (i: Pick<Instance, 'type' | 'number'>): string => `${i.type}.${i.number}`;

function planRelease(release: Release | null): PlanRelease | null {
  return release
    ? {
        id: release.id,
        version: release.version,
        processTypes: release.processTypes,
        runnable: release.imageRef !== null,
      }
    : null;
}

@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('scheduler');
  /** `line` (LineEvent) and `settled` (SettledEvent), for deploy watchers in this process. */
  readonly events = new EventEmitter();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private subscriber: Redis | undefined;
  /** What this process last wrote to the route table, by app name (null: not read yet). */
  private routes: Map<string, string> | null = null;
  private readonly deployStarted = new Map<string, number>();
  private readonly notices = new Map<string, string>();
  private readonly startedAt = Date.now();
  private releaseCommitted = false;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.events.setMaxListeners(0);
  }

  get enabled(): boolean {
    return this.config.scheduler.strategy !== 'off';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    // a release made or changed in this process (config change, rollback, a build worker here)
    // starts its deploy at once, once its transaction has committed
    this.dataSource.subscribers.push({
      afterInsert: (event) => this.releaseChanged(event.metadata.target, event.queryRunner.isTransactionActive),
      afterUpdate: (event) => this.releaseChanged(event.metadata.target, event.queryRunner.isTransactionActive),
      afterTransactionCommit: () => {
        if (!this.releaseCommitted) return;
        this.releaseCommitted = false;
        this.kick();
      },
    } satisfies EntitySubscriberInterface);
    this.timer = setInterval(() => this.kick(), this.config.scheduler.reconcileMs);
    this.timer.unref();
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', () => this.kick());
    subscriber.on('error', () => undefined); // reconnects by itself; passes run on the timer meanwhile
    await subscriber.subscribe(SCHEDULER_KICK_CHANNEL).catch((err: unknown) => {
      this.logger.warn(`cannot subscribe to ${SCHEDULER_KICK_CHANNEL}: ${(err as Error).message}`);
    });
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pending);
    this.subscriber?.disconnect();
    await this.running?.catch(() => undefined);
    await this.chain.catch(() => undefined);
  }

  private releaseChanged(target: unknown, inTransaction: boolean): void {
    if (target !== Release) return;
    if (inTransaction) this.releaseCommitted = true;
    else this.kick();
  }

  /** Runs `work` alone: passes and heartbeats never interleave. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => undefined).then(work);
    this.chain = next;
    return next;
  }

  /** Asks for a pass soon; many asks in a row make one pass. */
  kick(): void {
    if (!this.enabled || this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.reconcileNow();
    }, 5);
  }

  /** A pass now (or right after the one running); resolves when it is done. */
  reconcileNow(): Promise<void> {
    if (!this.enabled || this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.serial(() => this.reconcile()).catch((err: unknown) => {
            this.logger.error(`reconcile: ${(err as Error).stack ?? String(err)}`);
          });
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** One line in an app's log from the scheduler, and to this process's deploy watchers. */
  async log(appId: string, line: string): Promise<void> {
    this.events.emit('line', { appId, line } satisfies LineEvent);
    // every app's log starts with the api's lines (created, released); a late line for a
    // deleted app must not bring its log back
    await writeAppLog(this.redis, appId, SCHEDULER_LOG_SOURCE, line, {
      existingOnly: true,
      onError: (err) => this.logger.warn(`could not write to the log of app ${appId}: ${err.message}`),
    });
  }

  /** Wakes the agents of these nodes (their desired set changed). */
  async notifyNodes(names: Iterable<string>): Promise<void> {
    for (const name of new Set(names)) {
      await this.redis.publish(nodeChannel(name), 'changed').catch(() => undefined);
    }
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const lines: LineEvent[] = [];
    const say = (appId: string, line: string): void => void lines.push({ appId, line });
    const now = Date.now();
    const { manager } = this.dataSource;
    const touched = new Set<string>();

    // 1. nodes that stopped reporting (counting from this process's start: a restarted api is not a dead node)
    let nodes = await manager.find(Node, { order: { name: 'ASC' } });
    const timeout = this.config.scheduler.nodeTimeoutMs;
    const silent = nodes.filter(
      (n) =>
        n.state !== 'down' &&
        now - Math.max(n.lastHeartbeatAt ? Date.parse(n.lastHeartbeatAt) : 0, this.startedAt) > timeout,
    );
    const nodeById = new Map(nodes.map((n) => [n.id, n]));
    let instances = await manager.find(Instance);
    const onSilent = instances.filter((i) => i.desired === 'run' && silent.some((n) => n.id === i.nodeId));
    if (silent.length > 0) {
      // their instances are kept (a node that comes back keeps them) but no longer serve; the
      // plan places replacements and drops them once those serve
      await transaction(this.dataSource, async (em) => {
        for (const node of silent) await em.update(Node, { id: node.id }, { state: 'down' });
        for (const i of onSilent) await em.update(Instance, { id: i.id }, { state: 'down' });
      });
      const versions = await this.versions(onSilent.map((i) => i.releaseId));
      for (const node of silent) {
        this.logger.warn(`node ${node.name} is down: no heartbeat for ${Math.round(timeout / 1000)} s`);
        node.state = 'down';
      }
      for (const i of onSilent) {
        i.state = 'down';
        const node = nodeById.get(i.nodeId ?? '');
        say(
          i.appId,
          `${instanceName(i)} (v${versions.get(i.releaseId) ?? '?'}) is lost with node ${node?.name ?? '?'}: no heartbeat for ${Math.round(timeout / 1000)} s`,
        );
      }
    }
    // what a down node was asked to stop cannot be stopped now: its agent drops it when it is
    // back (it is not in its desired set); instances of nodes that no longer exist are forgotten
    const forgotten = instances.filter((i) => {
      if (i.nodeId === null) return i.desired === 'stop';
      const state = nodeById.get(i.nodeId)?.state;
      return state === undefined || (state === 'down' && i.desired === 'stop');
    });
    if (forgotten.length > 0) {
      await transaction(this.dataSource, async (em) => {
        for (const i of forgotten) await em.delete(Instance, { id: i.id });
      });
      const gone = new Set(forgotten.map((i) => i.id));
      instances = instances.filter((i) => !gone.has(i.id));
    }
    nodes = [...nodeById.values()];
    const anyNodeUp = nodes.some((n) => n.state === 'up');

    // 2. plan every app
    const apps = await manager.find(App, { order: { name: 'ASC' } });
    const capacities: NodeCapacity[] = nodes.map((n) => ({
      id: n.id,
      name: n.name,
      state: n.state,
      memory: n.memory,
      cpus: n.cpus,
    }));
    const allocations: Allocation[] = instances.flatMap((i) =>
      i.nodeId ? [{ nodeId: i.nodeId, appId: i.appId, type: i.type, memory: i.memory, cpu: i.cpu }] : [],
    );
    const plans: { app: App; target: Release | null; live: Release | null; plan: AppPlan }[] = [];
    const deploying = new Set<string>();
    for (const app of apps) {
      const [target, live] = await Promise.all([currentRelease(manager, app.id), liveRelease(manager, app.id)]);
      // read after the target: a release and its formation rows commit together, so a target
      // newer than the formation read before it would look complete with no rows, and go live
      const formation = await manager.find(Formation, { where: { appId: app.id } });
      const appInstances = instances.filter((i) => i.appId === app.id);
      if (target && target.imageRef !== null && target.id !== live?.id) {
        deploying.add(target.id);
        // a deploy's clock runs only while some node can run it
        if (!anyNodeUp && this.deployStarted.has(target.id)) this.deployStarted.set(target.id, now);
        if (!this.deployStarted.has(target.id)) {
          this.deployStarted.set(target.id, now);
          say(app.id, `Deploying v${target.version}${live ? ` (v${live.version} serves until it is up)` : ''}`);
        }
      }
      const plan = planApp({
        appId: app.id,
        target: planRelease(target),
        live: planRelease(live),
        formation,
        instances: appInstances.map((i) => ({
          id: i.id,
          releaseId: i.releaseId,
          type: i.type,
          number: i.number,
          nodeId: i.nodeId,
          state: i.state,
          desired: i.desired,
          memory: i.memory,
          cpu: i.cpu,
          error: i.error,
        })),
        nodes: capacities,
        allocations,
        strategy: this.config.scheduler.strategy === 'binpack' ? 'binpack' : 'spread',
        deployAgeMs: target ? now - (this.deployStarted.get(target.id) ?? now) : 0,
        deployTimeoutMs: this.config.scheduler.deployTimeoutMs,
      });
      for (const s of plan.start)
        allocations.push({ nodeId: s.nodeId, appId: app.id, type: s.type, memory: s.memory, cpu: s.cpu });
      plans.push({ app, target, live, plan });
    }
    for (const id of [...this.deployStarted.keys()]) if (!deploying.has(id)) this.deployStarted.delete(id);

    // 3. commit
    const changed = plans.filter(
      ({ plan }) => plan.start.length > 0 || plan.stop.length > 0 || plan.goLive !== null || plan.fail !== null,
    );
    const nowIso = new Date(now).toISOString();
    const byId = new Map(instances.map((i) => [i.id, i]));
    if (changed.length > 0) {
      const committed = await transaction(this.dataSource, async (em) => {
        for (const { app, plan } of changed) {
          for (const s of plan.start) {
            await em.insert(Instance, {
              id: randomUUID(),
              appId: app.id,
              releaseId: s.releaseId,
              type: s.type,
              number: s.number,
              nodeId: s.nodeId,
              containerId: null,
              state: 'starting',
              address: null,
              memoryBytes: null,
              desired: 'run',
              memory: s.memory,
              cpu: s.cpu,
              pid: null,
              restartCount: 0,
              error: null,
            });
          }
          for (const s of plan.stop) await em.update(Instance, { id: s.id }, { desired: 'stop', state: 'stopping' });
          if (plan.goLive) await releaseLive(em, plan.goLive, nowIso);
          if (plan.fail) await releaseFailed(em, plan.fail.releaseId, plan.fail.reason);
        }
        return true;
      }).catch((err: unknown) => {
        if (!(err instanceof ReleaseTransitionError)) throw err;
        this.logger.log(`${err.message}: planning again`);
        this.again = true;
        return false;
      });
      // nothing of the plan happened: its lines and events would not be true
      if (!committed) plans.length = 0;
    }
    const settled: SettledEvent[] = [];
    for (const { app, target, live, plan } of plans) {
      const version = (id: string): string =>
        id === target?.id ? `v${target.version}` : id === live?.id ? `v${live.version}` : 'an old release';
      const nodeName = (id: string): string => nodeById.get(id)?.name ?? id;
      for (const s of plan.start) {
        touched.add(nodeName(s.nodeId));
        say(app.id, `Starting ${s.type}.${s.number} (${version(s.releaseId)}) on ${nodeName(s.nodeId)}`);
      }
      for (const s of plan.stop) {
        const i = byId.get(s.id);
        if (!i) continue;
        if (i.nodeId) touched.add(nodeName(i.nodeId));
        const why = {
          scale: 'scaled down',
          release: target?.id === i.releaseId ? 'replaced' : `replaced by v${target?.version ?? '?'}`,
          drain: `node ${i.nodeId ? nodeName(i.nodeId) : '?'} is ${nodeById.get(i.nodeId ?? '')?.state === 'down' ? 'down' : 'draining'}; replaced`,
          'deploy-failed': 'its release failed to deploy',
          formation: `v${target?.version ?? '?'} has no ${i.type} process`,
        }[s.reason];
        say(app.id, `Stopping ${instanceName(i)} (${version(i.releaseId)}): ${why}`);
      }
      if (plan.goLive && target) {
        settled.push({ appId: app.id, releaseId: target.id, version: target.version, status: 'live', reason: null });
        say(app.id, `Deployed v${target.version}: the router sends ${app.name} to it`);
      }
      if (plan.fail && target) {
        settled.push({
          appId: app.id,
          releaseId: target.id,
          version: target.version,
          status: 'failed',
          reason: plan.fail.reason,
        });
        say(
          app.id,
          `Deploy of v${target.version} failed: ${plan.fail.reason}; ${live ? `rolled back, v${live.version} keeps serving` : 'nothing else to serve'}`,
        );
      }
      const notice = plan.unplaced.length
        ? `No node has room for ${plan.unplaced.map((u) => `${u.count} ${u.type} (${u.memory} MiB, ${u.cpu / 1000} CPU)`).join(', ')}: waiting for capacity`
        : '';
      if (notice !== (this.notices.get(app.id) ?? '')) {
        if (notice) say(app.id, notice);
        this.notices.set(app.id, notice);
      }
      // a deploy that waits says so on its release (the CLI, api and dashboard read it there)
      const deploying = target && target.id !== live?.id && !plan.goLive && !plan.fail;
      if (deploying && (target.deployNote ?? '') !== notice) {
        await releaseWaiting(manager, target.id, notice || null);
      }
    }

    // 4. routes, before any agent hears of a stop
    await this.writeRoutes(apps);
    // 5. wake the agents
    await this.notifyNodes(touched);
    for (const { appId, line } of lines) await this.log(appId, line);
    for (const event of settled) this.events.emit('settled', event);
  }

  private async versions(releaseIds: string[]): Promise<Map<string, number>> {
    if (releaseIds.length === 0) return new Map();
    const rows = await this.dataSource.manager
      .createQueryBuilder(Release, 'r')
      .select(['r.id', 'r.version'])
      .where('r.id IN (:...ids)', { ids: [...new Set(releaseIds)] })
      .getMany();
    return new Map(rows.map((r) => [r.id, r.version]));
  }

  /**
   * Every app's route: its custom domains and the web instances of its live release that are
   * up and not leaving. Only what changed since the last write is written.
   */
  private async writeRoutes(apps: readonly App[]): Promise<void> {
    const { manager } = this.dataSource;
    if (this.routes === null) {
      const table = await readRouteTable(this.redis);
      this.routes = new Map([...table.routes].map(([name, route]) => [name, JSON.stringify(route)]));
      for (const bad of table.invalid) this.routes.set(bad.app, '');
    }
    const domains = await manager.find(Domain, { order: { hostname: 'ASC' } });
    const web = await manager.find(Instance, {
      where: { type: 'web', desired: 'run', state: 'up' },
      order: { number: 'ASC' },
    });
    const names = new Set<string>();
    for (const app of apps) {
      names.add(app.name);
      const live = await liveRelease(manager, app.id);
      const backends: Backend[] = [];
      const seen = new Set<string>();
      for (const i of web) {
        if (i.appId !== app.id || i.releaseId !== live?.id || !i.address || seen.has(i.address)) continue;
        seen.add(i.address);
        backends.push({ id: instanceName(i), address: i.address });
      }
      const hosts = domains.filter((d) => d.appId === app.id).map((d) => d.hostname);
      const check = routeCheck(live?.healthchecks);
      const route = JSON.stringify({ app: app.name, hosts, backends, check });
      if (this.routes.get(app.name) === route) continue;
      try {
        await setAppRoutes(this.redis, app.name, hosts, backends, check);
        this.routes.set(app.name, route);
      } catch (err) {
        this.logger.error(`route of ${app.name}: ${(err as Error).message}`);
      }
    }
    for (const name of [...this.routes.keys()]) {
      if (names.has(name)) continue;
      await removeAppRoutes(this.redis, name).catch(() => null);
      this.routes.delete(name);
    }
  }
}
