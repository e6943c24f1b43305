/**
 * The scheduler's reconcile pass, as a function of the roles it talks to: it turns releases x
 * formation into instances on nodes, and instances into the route table. One pass:
 *
 *   1. nodes silent for the node timeout are marked down; their instances are dropped (the
 *      plan then places replacements on the other nodes)
 *   2. each app is planned (libs/platform scheduling/plan.ts): start, stop, go live, fail
 *   3. the plan's starts and release moves are committed in one transaction (going live and
 *      failing through the release lifecycle: a release that moved on meanwhile, superseded by
 *      a rollback, makes the pass commit nothing and say none of the plan's lines, and the next
 *      pass plans again)
 *   4. the route table gets each app's healthy web instances of its live release (stopped ones
 *      leave it here); while a deploy rolls on full nodes (the live release has fewer web
 *      instances up than its formation asks for, some stopped to make room) the target's
 *      healthy ones serve beside them. Only then are the plan's stops committed: an agent learns
 *      of a stop from the database, so a stop written before the routes (or while the route
 *      table cannot be written, Redis down) would end an instance the routers still send to.
 *      A pass that fails here leaves its stops to the next one, which plans them again.
 *   5. the agents whose desired set changed are woken
 *
 * It lives in the api, beside the Nest service that runs it (timer, kicks, `serial` with the
 * heartbeats), because only the api's scheduler runs passes; libs/platform scheduling keeps
 * what is pure and shared with the agents (planning, placement, the protocol). The roles are
 * small interfaces, as containerd's: the real ones are in scheduling-store.ts (TypeORM) and
 * scheduler-redis.ts (route table, app logs, node channels); testing.ts has in-memory fakes.
 *
 * A Reconciler remembers between passes what no table holds: when each deploy started (its
 * clock runs only while some node is up), the capacity notice last said per app, and what this
 * process last wrote to the route table. One Reconciler per term of leadership (leader.ts):
 * a new leader starts from the tables and Redis; passes run one at a time.
 */
import {
  AUTOSCALED_TYPE,
  type Allocation,
  type AppActivity,
  type AppPlan,
  type Backoff,
  backoffDelay,
  formatDuration,
  formationAutoscale,
  idleQuantity,
  loadQuantity,
  type HealthcheckSpec,
  type InstanceState,
  type NodeCapacity,
  nodeCapacity,
  type NodeState,
  type PlanFormation,
  type PlanInstance,
  type PlanRelease,
  ReleaseTransitionError,
  type RollingLimit,
  type Strategy,
  describeUnplaced,
  planApp,
  routeCheck,
} from '@paas/platform';
import type { AppRoute, Backend } from '@paas/platform/routes';

export interface PassNode {
  readonly id: string;
  readonly name: string;
  readonly state: NodeState;
  readonly memory: number;
  /** How much of `memory` placement may promise, in percent. */
  readonly overcommit: number;
  readonly cpus: number;
  /** ISO time; null before its first heartbeat. */
  readonly lastHeartbeatAt: string | null;
}

export interface PassInstance extends PlanInstance {
  readonly appId: string;
  /** Where it serves (`IP:PORT`) once its agent says so. */
  readonly address: string | null;
}

export interface PassRelease {
  readonly id: string;
  readonly version: number;
  readonly processTypes: Readonly<Record<string, string>>;
  /** null: nothing to run (a config release before the first build). */
  readonly imageRef: string | null;
  /** Why its deploy waits, as the release shows it (see releaseWaiting). */
  readonly deployNote: string | null;
  readonly healthchecks: Readonly<Record<string, readonly HealthcheckSpec[]>> | null;
}

export interface PassApp {
  readonly id: string;
  readonly name: string;
  /** `paas https`: off when absent, and then the route has no `https`. */
  readonly httpsRedirect?: boolean;
  readonly hstsMaxAge?: number | null;
  /** `paas maintenance:on`: the route says so, and routers answer 503 without the backends. */
  readonly maintenance?: boolean;
}

/** A formation row: what the plan needs, and what waits for room as last said. */
export interface PassFormation extends PlanFormation {
  readonly waiting: number;
  readonly waitingReason: string | null;
  /** Autoscale (formation.ts Autoscale), all null (or absent) when off. */
  readonly autoscaleMin?: number | null;
  readonly autoscaleMax?: number | null;
  readonly autoscaleConcurrency?: number | null;
  readonly autoscaleIdleMs?: number | null;
  readonly autoscaleHardLimit?: number | null;
  /** When the row last changed (a scale, a wake, autoscale set): an idle period counts from then at the earliest. */
  readonly updatedAt?: Date;
}

/** An app's releases that matter to the plan (release-lifecycle's current and live) and its formation. */
export interface AppReleases {
  readonly target: PassRelease | null;
  readonly live: PassRelease | null;
  readonly formation: readonly PassFormation[];
}

/** 1. The nodes and their liveness. */
export interface NodeRegistry {
  /** Every node, by name. */
  list(): Promise<PassNode[]>;
  /** In one transaction: these nodes are down, and these instances (theirs) are down with them. */
  markDown(nodeIds: readonly string[], instanceIds: readonly string[]): Promise<void>;
  /** In one transaction: these instances are forgotten (their node is gone, or down while they leave). */
  forget(instanceIds: readonly string[]): Promise<void>;
}

/** 2. What is wanted and what is there. */
export interface DesiredState {
  /** Every app, by name. */
  apps(): Promise<PassApp[]>;
  /** The formation is read after the target: a target newer than its formation rows would look complete. */
  releases(appId: string): Promise<AppReleases>;
  /** Every instance of every app, leaving ones included. */
  instances(): Promise<PassInstance[]>;
  /** What else holds memory on nodes: add-ons (libs/platform addons.ts), which placement must count too. */
  reserved?(): Promise<Allocation[]>;
  /** Release versions by id, for lines about instances. */
  versions(releaseIds: readonly string[]): Promise<Map<string, number>>;
}

/** One app's plan, to commit. */
export interface PlannedApp {
  readonly appId: string;
  readonly plan: AppPlan;
}

/** 3. Writes what was planned. */
export interface PlanCommitter {
  /**
   * In one transaction: the plans' new instances and the release moves (live at `at`, an ISO
   * time, or failed) through the release lifecycle; not their stops (`stop`, once the routes
   * are written). Throws ReleaseTransitionError when a release moved meanwhile: then nothing
   * of it happened.
   */
  commit(plans: readonly PlannedApp[], at: string): Promise<void>;
  /** In one transaction: these instances are to stop (the routes no longer send to them). */
  stop(instanceIds: readonly string[]): Promise<void>;
  /**
   * Sets a process type's quantity from `from` to `to` (autoscale: asleep when idle, woken on a
   * request); false when the row no longer says `from` (scaled meanwhile), and nothing changed.
   */
  setQuantity(appId: string, type: string, from: number, to: number): Promise<boolean>;
  /** Why a deploying release waits (null: it no longer does); see releaseWaiting. */
  noteWaiting(releaseId: string, note: string | null): Promise<void>;
  /** How many of a process type's instances wait for room, and why (ps, the api and the dashboard show it). */
  noteFormationWaiting(appId: string, type: string, waiting: number, reason: string | null): Promise<void>;
}

/**
 * 4. What the routes are made of besides the instances, read after the commit. The instances
 * are the pass's own read with the commit's stops applied (`serving` in Reconciler.pass), not
 * read again: at 1,000 instances that read was half of every pass. In one api process it is
 * exact (heartbeats and passes run one at a time); with replicas, a heartbeat recorded by
 * another api during the pass reaches the routes at the next pass, which that heartbeat asks for.
 */
export interface ServingState {
  liveRelease(appId: string): Promise<PassRelease | null>;
  /** Every custom domain, by hostname. */
  domains(): Promise<{ readonly appId: string; readonly hostname: string }[]>;
}

/** 4. The route table the routers read (libs/platform routes.ts). */
export interface RouteTable {
  /** What it holds, by app: each route as JSON, '' for an entry that does not parse. */
  read(): Promise<Map<string, string>>;
  /** Its version: every change moves it up; lower than seen before means the table was lost. */
  version(): Promise<number>;
  /** Each returns the table's version after it. */
  write(route: AppRoute): Promise<number>;
  remove(app: string): Promise<number>;
  /**
   * Replaces the whole table at once (after it was lost: readers never see it half written),
   * its version past `past` (what this writer wrote last, which readers may hold).
   */
  rebuild(routes: readonly AppRoute[], past: number): Promise<number>;
}

/** A line in an app's log from the scheduler. */
export interface LineEvent {
  readonly appId: string;
  readonly line: string;
}

/** A deploy's end, for whoever waits for it in this process (DeploysService). */
export interface SettledEvent {
  readonly appId: string;
  readonly releaseId: string;
  readonly version: number;
  readonly status: 'live' | 'failed';
  readonly reason: string | null;
}

/** What the pass says: app log lines, then settled deploys; only once what they tell is written. */
export interface PassMessages {
  line(appId: string, line: string): Promise<void>;
  settled(event: SettledEvent): void;
}

/**
 * Scale to zero (libs/platform wake.ts): what the routers saw of apps, by name, and the wakes
 * they asked for. Best effort: an app whose activity cannot be read stays as it is.
 */
export interface WakeSignals {
  activity(apps: readonly string[]): Promise<Map<string, AppActivity>>;
  /** The wakes asked for: when each was asked, in ms since the epoch. */
  wakes(apps: readonly string[]): Promise<Map<string, number>>;
  /** The wake of `app` was acted on (or refused): the next ask is a new one. */
  taken(app: string): Promise<void>;
  /** How long the first request held for the app's last wake waited for its first byte (ms), once; null: not yet. */
  firstByte(app: string): Promise<number | null>;
}

/** 5. Wakes agents whose desired set changed. */
export interface NodeNotifier {
  wake(nodeNames: ReadonlySet<string>): Promise<void>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The operator's log (not an app's). */
export interface PassLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface PassRoles {
  readonly nodes: NodeRegistry;
  readonly desired: DesiredState;
  readonly committer: PlanCommitter;
  readonly serving: ServingState;
  readonly routes: RouteTable;
  readonly messages: PassMessages;
  readonly notifier: NodeNotifier;
  readonly clock: Clock;
  readonly logger: PassLogger;
  /** Absent: no process type sleeps or wakes (autoscale settings are kept, not acted on). */
  readonly wakes?: WakeSignals;
}

export interface PassSettings {
  readonly strategy: Strategy;
  /** Rolling replacement limits (PAAS_DEPLOY_MAX_SURGE, PAAS_DEPLOY_MAX_UNAVAILABLE); plan.ts's defaults when absent. */
  readonly maxSurge?: RollingLimit;
  readonly maxUnavailable?: RollingLimit;
  /** A node silent this long is down. */
  readonly nodeTimeoutMs: number;
  /** A deploy not live by then fails. */
  readonly deployTimeoutMs: number;
  /** After failed wakes in a row, how long until the next may be asked (WAKE_BACKOFF by default). */
  readonly wakeBackoff?: Backoff;
}

/**
 * Failed wakes back off from 5 s to 5 min, jittered (the first 2.5-5 s): a crashing app is
 * never restarted in a loop.
 */
export const WAKE_BACKOFF: Backoff = { firstMs: 5000, capMs: 300_000 };

/**
 * A woken instance that stayed up this long clears its app's failed wakes: one that crashes
 * soon after passing its check still backs off further each time.
 */
export const WAKE_STABLE_MS = 60_000;

/** What the routers said of the autoscaled apps this pass, read once for all of them. */
interface Signals {
  readonly activity: Map<string, AppActivity> | null;
  readonly asked: Map<string, number>;
}

/** The process type that sleeps and wakes: the one routers send requests to. */
const SLEEPER = AUTOSCALED_TYPE;

export interface PassOutcome {
  /** The plan did not commit (a release moved meanwhile): plan again at once. */
  readonly planAgain: boolean;
}

const instanceName = (i: Pick<PassInstance, 'type' | 'number'>): string => `${i.type}.${i.number}`;

function planRelease(release: PassRelease | null): PlanRelease | null {
  return release
    ? {
        id: release.id,
        version: release.version,
        processTypes: release.processTypes,
        runnable: release.imageRef !== null,
      }
    : null;
}

function planInstance(i: PassInstance): PlanInstance {
  const { id, releaseId, type, number, nodeId, state, desired, size, memory, cpuShares, cpuQuota, replace, error } = i;
  return { id, releaseId, type, number, nodeId, state, desired, size, memory, cpuShares, cpuQuota, replace, error };
}

/** A wake under way: when it was asked and when its stages were seen, for the app's log. */
interface Waking {
  readonly askedAt: number;
  readonly placedAt: number;
  startedAt: number | null;
}

/** What the route step needs of an app that sleeps: a route without backends says `sleeping`. */
interface Sleeper {
  /** A failed wake: no other before then. */
  readonly retryAt: number | null;
}

interface AppPass {
  readonly app: PassApp;
  readonly target: PassRelease | null;
  readonly live: PassRelease | null;
  readonly formation: readonly PassFormation[];
  readonly plan: AppPlan;
}

/** What the route step needs of a deploy under way: the target, and how many web instances are wanted. */
interface Rolling {
  readonly targetId: string;
  readonly web: number;
}

export class Reconciler {
  /** Silence is counted from here at most: a restarted api is not a dead node. */
  private readonly startedAt: number;
  /** When each deploy under way started, by release id. */
  private readonly deployStarted = new Map<string, number>();
  /** The capacity notice last said, by app id. */
  private readonly notices = new Map<string, string>();
  /** What this process last wrote to the route table, by app name (null: not read yet). */
  private written: Map<string, string> | null = null;
  /** The table's version after this process's last write, or as it last read it. */
  private writtenVersion = 0;
  /** Wakes under way, by app id. */
  private readonly waking = new Map<string, Waking>();
  /** Wakes that served, until a router says when their first byte went out (or a minute passed), by app id. */
  private readonly woken = new Map<string, number>();
  /** When a wake's instance came up, by app id: an idle period counts from then at the earliest. */
  private readonly awakeSince = new Map<string, number>();
  /** Since when the load has asked for fewer instances than run, by app id (autoscale's quiet period). */
  private readonly lowSince = new Map<string, number>();
  /** Failed wakes in a row and when the next may be asked, by app id. */
  private readonly wakeFailures = new Map<string, { count: number; retryAt: number }>();

  constructor(
    private readonly roles: PassRoles,
    private readonly settings: PassSettings,
  ) {
    this.startedAt = roles.clock.now();
  }

  async pass(): Promise<PassOutcome> {
    const { roles } = this;
    const lines: LineEvent[] = [];
    const say = (appId: string, line: string): void => void lines.push({ appId, line });
    const now = roles.clock.now();

    // 1. nodes
    const { nodeById, instances } = await this.nodes(now, say);
    const nodes = [...nodeById.values()];
    const anyNodeUp = nodes.some((n) => n.state === 'up');

    // 2. plan every app
    const apps = await roles.desired.apps();
    const capacities: NodeCapacity[] = nodes.map(nodeCapacity);
    const allocations: Allocation[] = [
      ...instances.flatMap((i) =>
        i.nodeId ? [{ nodeId: i.nodeId, appId: i.appId, type: i.type, memory: i.memory, cpuShares: i.cpuShares }] : [],
      ),
      ...((await roles.desired.reserved?.()) ?? []),
    ];
    // memory some node gets back soon: an instance leaving an up node
    let freeing = instances.some((i) => i.desired === 'stop' && nodeById.get(i.nodeId ?? '')?.state === 'up');
    let plans: AppPass[] = [];
    const deploying = new Set<string>();
    const rolling = new Map<string, Rolling>();
    const sleepers = new Map<string, Sleeper>();
    const releasesOf = new Map<string, AppReleases>();
    for (const app of apps) releasesOf.set(app.id, await roles.desired.releases(app.id));
    this.forgetGone(new Set(apps.map((a) => a.id)));
    const signals = await this.readSignals(apps, releasesOf);
    for (const app of apps) {
      const releases = releasesOf.get(app.id) as AppReleases;
      const { target, live } = releases;
      const formation = await this.autoscale(app, releases, instances, now, say, sleepers, signals);
      if (target && target.imageRef !== null && target.id !== live?.id) {
        deploying.add(target.id);
        rolling.set(app.id, { targetId: target.id, web: formation.find((f) => f.type === 'web')?.quantity ?? 0 });
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
        instances: instances.filter((i) => i.appId === app.id).map(planInstance),
        nodes: capacities,
        allocations,
        strategy: this.settings.strategy,
        deployAgeMs: target ? now - (this.deployStarted.get(target.id) ?? now) : 0,
        deployTimeoutMs: this.settings.deployTimeoutMs,
        ...(this.settings.maxSurge ? { maxSurge: this.settings.maxSurge } : {}),
        ...(this.settings.maxUnavailable ? { maxUnavailable: this.settings.maxUnavailable } : {}),
        freeing,
      });
      for (const s of plan.start)
        allocations.push({ nodeId: s.nodeId, appId: app.id, type: s.type, memory: s.memory, cpuShares: s.cpuShares });
      if (plan.stop.length > 0) freeing = true;
      plans.push({ app, target, live, formation, plan });
    }
    for (const id of [...this.deployStarted.keys()]) if (!deploying.has(id)) this.deployStarted.delete(id);

    // 3. commit
    let planAgain = false;
    const changed = plans.filter(
      ({ plan }) => plan.start.length > 0 || plan.stop.length > 0 || plan.goLive !== null || plan.fail !== null,
    );
    if (changed.length > 0) {
      try {
        await roles.committer.commit(
          changed.map(({ app, plan }) => ({ appId: app.id, plan })),
          new Date(now).toISOString(),
        );
      } catch (err) {
        if (!(err instanceof ReleaseTransitionError)) throw err;
        roles.logger.log(`${err.message}: planning again`);
        planAgain = true;
        // nothing of the plan happened: its lines and events would not be true
        plans = [];
      }
    }

    // 4. routes: the web instances that are up and stay; then the stops, which agents act on
    const stopped = new Set(plans.flatMap(({ plan }) => plan.stop.map((s) => s.id)));
    const serving = instances
      .filter((i) => i.type === 'web' && i.desired === 'run' && i.state === 'up' && !stopped.has(i.id))
      .sort((a, b) => a.number - b.number);
    // the routers hold each instance of web to its hard limit
    const limits = new Map<string, number>();
    for (const app of apps) {
      const web = releasesOf.get(app.id)?.formation.find((f) => f.type === SLEEPER);
      const hardLimit = web && formationAutoscale(web)?.hardLimit;
      if (hardLimit != null) limits.set(app.id, hardLimit);
    }
    const unrouted = await this.writeRoutes(apps, rolling, serving, sleepers, limits);
    // an app whose route could not be written keeps its instances this pass (the next plans
    // their stops again), and says nothing of them yet
    const done = plans.map((p) => (unrouted.has(p.app.id) ? { ...p, plan: { ...p.plan, stop: [] } } : p));
    const stops = done.flatMap(({ plan }) => plan.stop.map((s) => s.id));
    if (stops.length > 0) await roles.committer.stop(stops);
    const { touched, settled } = await this.tell(done, instances, nodeById, say);
    // 5. wake the agents
    await roles.notifier.wake(touched);
    for (const { appId, line } of lines) await roles.messages.line(appId, line);
    for (const event of settled) roles.messages.settled(event);
    return { planAgain };
  }

  /** Deleted apps leave the per-app memory of autoscale. */
  private forgetGone(ids: ReadonlySet<string>): void {
    for (const map of [this.waking, this.woken, this.awakeSince, this.lowSince, this.wakeFailures, this.notices])
      for (const id of [...map.keys()]) if (!ids.has(id)) map.delete(id);
  }

  /** The routers' activity and wake asks of every autoscaled app, in one read each (best effort). */
  private async readSignals(apps: readonly PassApp[], releasesOf: ReadonlyMap<string, AppReleases>): Promise<Signals> {
    const signals = this.roles.wakes;
    const names = apps
      .filter((a) => releasesOf.get(a.id)?.formation.some((f) => f.type === SLEEPER && formationAutoscale(f)))
      .map((a) => a.name);
    if (!signals || names.length === 0) return { activity: new Map(), asked: new Map() };
    const [activity, asked] = await Promise.all([
      signals.activity(names).catch(() => null),
      signals.wakes(names).catch(() => new Map<string, number>()),
    ]);
    return { activity, asked };
  }

  /**
   * Scale to zero, before the plan: an app's web process with autoscale at min 0 goes to sleep
   * (quantity 0) once idle, and wakes (quantity 1) when a router asked; a wake whose instance
   * crashed with none up sends it back to sleep, and no wake is taken before a back-off. The
   * formation rows changed are written here (only if nobody scaled them meanwhile); the plan
   * then starts or stops instances as for any scale, and the agent is told at once.
   */
  private async autoscale(
    app: PassApp,
    { target, live, formation }: AppReleases,
    instances: readonly PassInstance[],
    now: number,
    say: (appId: string, line: string) => void,
    sleepers: Map<string, Sleeper>,
    { activity, asked }: Signals,
  ): Promise<readonly PassFormation[]> {
    const signals = this.roles.wakes;
    const web = formation.find((f) => f.type === SLEEPER);
    const autoscale = web && formationAutoscale(web);
    const sleeps = autoscale?.min === 0;
    if (!sleeps) {
      this.waking.delete(app.id);
      this.woken.delete(app.id);
      this.wakeFailures.delete(app.id);
    }
    if (!autoscale) this.lowSince.delete(app.id);
    if (!sleeps) this.awakeSince.delete(app.id);
    if (!signals || !web || !autoscale) return formation;
    const mine = instances.filter((i) => i.appId === app.id && i.type === SLEEPER && i.desired === 'run');
    const serving = live ?? target;
    const up = mine.some((i) => i.state === 'up' && (serving === null || i.releaseId === serving.id));
    const crashed = mine.find((i) => i.state === 'crashed' && (serving === null || i.releaseId === serving.id));
    const waking = this.waking.get(app.id);
    let quantity = web.quantity;
    let retryAt = this.wakeFailures.get(app.id)?.retryAt ?? null;
    if (waking && up) {
      // healthy: the route gets it in this pass's step 4
      // the stages this leader saw, from the request (a heartbeat may go from placed to up at once)
      const at = (t: number): string => `+${Math.max(0, t - waking.askedAt)} ms`;
      const started = waking.startedAt === null ? '' : `, started ${at(waking.startedAt)}`;
      say(app.id, `Woke ${SLEEPER}: requested, placed ${at(waking.placedAt)}${started}, healthy ${at(now)}`);
      this.waking.delete(app.id);
      this.woken.set(app.id, now + 60_000);
      this.awakeSince.set(app.id, now);
      // its failures are forgotten only once it stays up (WAKE_STABLE_MS)
      retryAt = null;
    } else if (waking && waking.startedAt === null && mine.some((i) => i.state === 'starting')) {
      waking.startedAt = now;
    }
    if (this.woken.has(app.id)) {
      const ms = await signals.firstByte(app.name).catch(() => null);
      if (ms !== null) say(app.id, `Woke ${SLEEPER}: first byte to the client +${ms} ms after its request`);
      if (ms !== null || now > (this.woken.get(app.id) ?? 0)) this.woken.delete(app.id);
    }
    if (up && !this.waking.has(app.id) && now - this.idleSince(app.id, web) >= WAKE_STABLE_MS)
      this.wakeFailures.delete(app.id);
    const askedAt = asked.get(app.name);
    let to = quantity;
    let line: string | null = null;
    if (sleeps && quantity > 0 && crashed && !up) {
      // a wake (or the one instance) that crashes sleeps again: the next request wakes it after a back-off
      const count = (this.wakeFailures.get(app.id)?.count ?? 0) + 1;
      const delay = backoffDelay(count, this.settings.wakeBackoff ?? WAKE_BACKOFF);
      retryAt = now + delay;
      this.wakeFailures.set(app.id, { count, retryAt });
      this.waking.delete(app.id);
      to = 0;
      line = `Wake of ${SLEEPER} failed: ${instanceName(crashed)} ${crashed.error ? `failed: ${crashed.error}` : 'crashed'}; sleeping, no wake for ${Math.ceil(delay / 1000)} s`;
    } else if (sleeps && quantity === 0 && askedAt !== undefined) {
      // an ask made before it went to sleep was deleted then: any left is a wake (the routers'
      // clock is not compared with the database's)
      if (retryAt !== null && now < retryAt) {
        line = null;
      } else {
        to = Math.max(1, autoscale.min);
        line = `Waking ${SLEEPER}: requested ${Math.max(0, now - askedAt)} ms ago`;
        this.waking.set(app.id, { askedAt: Math.min(askedAt, now), placedAt: now, startedAt: null });
      }
      await signals.taken(app.name).catch(() => undefined);
    } else if (quantity > 0 && !this.waking.has(app.id) && activity !== null) {
      const seen = activity.get(app.name) ?? null;
      const inflight = seen?.inflight ?? 0;
      // by load between min and max: up at once, down after the quiet period
      const load = loadQuantity({ quantity, autoscale, inflight, lowSince: this.lowSince.get(app.id) ?? null, now });
      if (load.lowSince === null) this.lowSince.delete(app.id);
      else this.lowSince.set(app.id, load.lowSince);
      to = load.quantity;
      if (to > quantity)
        line = `Scaling ${SLEEPER} to ${to}: ${inflight} requests in flight, ${autoscale.concurrency} per instance`;
      else if (to < quantity)
        line = `Scaling ${SLEEPER} down to ${to}: ${inflight} requests in flight for ${formatDuration(autoscale.idleMs)}`;
      // and to zero once idle
      const idle = sleeps
        ? idleQuantity({ quantity, autoscale, activity: seen, since: this.idleSince(app.id, web), now })
        : quantity;
      if (idle === 0) {
        to = 0;
        line = `${SLEEPER} idle for ${formatDuration(autoscale.idleMs)} with nothing in flight: sleeping (scaled to 0)`;
      }
    }
    if (to !== quantity && (await this.roles.committer.setQuantity(app.id, SLEEPER, quantity, to))) {
      quantity = to;
      if (line) say(app.id, line);
      // an ask left from before it slept (a router still held requests then) must not wake it
      if (to === 0) await signals.taken(app.name).catch(() => undefined);
    }
    if (sleeps) sleepers.set(app.id, { retryAt: quantity === 0 && retryAt !== null && retryAt > now ? retryAt : null });
    return quantity === web.quantity
      ? formation
      : formation.map((f) => (f === web ? { ...f, quantity, updatedAt: new Date(now) } : f));
  }

  /** Since when a web process counts as idle at the earliest: its formation's last change, or its last wake's coming up. */
  private idleSince(appId: string, web: PassFormation): number {
    return Math.max(web.updatedAt?.getTime() ?? 0, this.awakeSince.get(appId) ?? 0);
  }

  /** Step 1: silent nodes go down with their instances; instances no node will stop are forgotten. */
  private async nodes(
    now: number,
    say: (appId: string, line: string) => void,
  ): Promise<{ nodeById: Map<string, PassNode>; instances: PassInstance[] }> {
    const { roles } = this;
    const listed = await roles.nodes.list();
    const timeout = this.settings.nodeTimeoutMs;
    const silent = listed.filter(
      (n) =>
        n.state !== 'down' &&
        now - Math.max(n.lastHeartbeatAt ? Date.parse(n.lastHeartbeatAt) : 0, this.startedAt) > timeout,
    );
    const nodeById = new Map(listed.map((n) => [n.id, n]));
    let instances = await roles.desired.instances();
    const onSilent = instances.filter((i) => i.desired === 'run' && silent.some((n) => n.id === i.nodeId));
    if (silent.length > 0) {
      // their instances are kept (a node that comes back keeps them) but no longer serve; the
      // plan places replacements and drops them once those serve
      await roles.nodes.markDown(
        silent.map((n) => n.id),
        onSilent.map((i) => i.id),
      );
      const versions = onSilent.length
        ? await roles.desired.versions([...new Set(onSilent.map((i) => i.releaseId))])
        : new Map<string, number>();
      for (const node of silent) {
        roles.logger.warn(`node ${node.name} is down: no heartbeat for ${Math.round(timeout / 1000)} s`);
        nodeById.set(node.id, { ...node, state: 'down' });
      }
      const down = new Set(onSilent.map((i) => i.id));
      const lost: InstanceState = 'down';
      instances = instances.map((i) => (down.has(i.id) ? { ...i, state: lost } : i));
      for (const i of onSilent) {
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
      await roles.nodes.forget(forgotten.map((i) => i.id));
      const gone = new Set(forgotten.map((i) => i.id));
      instances = instances.filter((i) => !gone.has(i.id));
    }
    return { nodeById, instances };
  }

  /** The committed plans' lines, settled deploys, capacity notices, and the nodes to wake. */
  private async tell(
    plans: readonly AppPass[],
    instances: readonly PassInstance[],
    nodeById: ReadonlyMap<string, PassNode>,
    say: (appId: string, line: string) => void,
  ): Promise<{ touched: Set<string>; settled: SettledEvent[] }> {
    const touched = new Set<string>();
    const settled: SettledEvent[] = [];
    const byId = new Map(instances.map((i) => [i.id, i]));
    const nodeName = (id: string): string => nodeById.get(id)?.name ?? id;
    for (const { app, target, live, formation, plan } of plans) {
      const version = (id: string): string =>
        id === target?.id ? `v${target.version}` : id === live?.id ? `v${live.version}` : 'an old release';
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
          resize: `resized to ${formation.find((f) => f.type === i.type)?.size ?? '?'}; replaced`,
          restart: 'restarted; replaced',
          room: `making room for v${target?.version ?? '?'}: no room for a second copy`,
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
      // what rolls is not waiting: old instances stop to make its room (said once, below)
      const waits = plan.unplaced.filter((u) => !u.rolling);
      const rolls = plan.unplaced.filter((u) => u.rolling);
      const notice = waits.length
        ? `Waiting for room for ${describeUnplaced(waits)}: ${[...new Set(waits.map((u) => u.reason))].join('; ')}`
        : rolls.length
          ? `Rolling: no room for a second copy of ${describeUnplaced(rolls)}; replacing a few at a time`
          : '';
      // what waits, per process type, where ps, the api and the dashboard read it
      for (const f of formation) {
        const u = waits.find((x) => x.type === f.type);
        const [waiting, reason] = [u?.count ?? 0, u?.reason ?? null];
        if (f.waiting !== waiting || f.waitingReason !== reason)
          await this.roles.committer.noteFormationWaiting(app.id, f.type, waiting, reason);
      }
      if (notice !== (this.notices.get(app.id) ?? '')) {
        if (notice) say(app.id, notice);
        this.notices.set(app.id, notice);
      }
      // a deploy that waits says so on its release (the CLI, api and dashboard read it there)
      const deploying = target && target.id !== live?.id && !plan.goLive && !plan.fail;
      const note = waits.length ? notice : '';
      if (deploying && (target.deployNote ?? '') !== note) {
        await this.roles.committer.noteWaiting(target.id, note || null);
      }
    }
    return { touched, settled };
  }

  /**
   * Step 4: every app's route: its custom domains and the web instances of its live release
   * that are up and not leaving (with the target's, while a deploy rolls: fewer live ones up
   * than wanted). Only what changed since the last write is written.
   */
  private async writeRoutes(
    apps: readonly PassApp[],
    rolling: ReadonlyMap<string, Rolling>,
    web: readonly PassInstance[],
    sleepers: ReadonlyMap<string, Sleeper>,
    limits: ReadonlyMap<string, number>,
  ): Promise<Set<string>> {
    const { serving, routes, logger } = this.roles;
    const unwritten = new Set<string>();
    // the table's version gone back: a Redis restarted without its data (or from an older
    // snapshot) lost what was written; it is written again, whole, from the database
    const version = await routes.version();
    const lost = this.written !== null && version < this.writtenVersion;
    // moved on without this process, the only writer: an old leader (leader.ts) that woke up
    // after losing office wrote before it knew; what it holds is read, and what differs put right
    const foreign = this.written !== null && version > this.writtenVersion;
    if (this.written === null || lost || foreign) this.written = await routes.read();
    // (a lost table with nothing to write again is simply the table from now on)
    if (!lost || apps.length === 0) this.writtenVersion = version;
    const written = this.written;
    const domains = await serving.domains();
    const wanted: AppRoute[] = [];
    for (const app of apps) {
      const live = await serving.liveRelease(app.id);
      const backends: Backend[] = [];
      const seen = new Set<string>();
      const add = (releaseId: string | undefined): void => {
        for (const i of web) {
          if (i.appId !== app.id || i.releaseId !== releaseId || !i.address || seen.has(i.address)) continue;
          seen.add(i.address);
          backends.push({ id: instanceName(i), address: i.address });
        }
      };
      add(live?.id);
      const roll = rolling.get(app.id);
      if (live && roll && roll.targetId !== live.id && backends.length < roll.web) add(roll.targetId);
      const hosts = domains.filter((d) => d.appId === app.id).map((d) => d.hostname);
      const https =
        app.httpsRedirect || (app.hstsMaxAge ?? null) !== null
          ? { https: { redirect: app.httpsRedirect === true, hstsMaxAge: app.hstsMaxAge ?? null } }
          : {};
      // off is left out, as validateRoute normalizes it: what is written compares equal to what is read
      const maintenance = app.maintenance ? { maintenance: true as const } : {};
      // an app that sleeps (or wakes) has its requests held by the routers, not answered 503
      const sleeper = backends.length === 0 ? sleepers.get(app.id) : undefined;
      const sleeping = sleeper
        ? { sleeping: true as const, ...(sleeper.retryAt !== null ? { wakeRetryAt: sleeper.retryAt } : {}) }
        : {};
      wanted.push({
        app: app.name,
        hosts,
        backends,
        check: routeCheck(live?.healthchecks),
        ...https,
        ...maintenance,
        ...sleeping,
        // after sleeping, as validateRoute orders it: what is written compares equal to what is read
        ...(limits.has(app.id) ? { hardLimit: limits.get(app.id) as number } : {}),
      });
    }
    if (lost && wanted.length > 0) {
      logger.warn(`the route table was lost (Redis restarted without it?): writing ${wanted.length} routes again`);
      try {
        this.writtenVersion = await routes.rebuild(wanted, this.writtenVersion);
        this.written = new Map(wanted.map((r) => [r.app, JSON.stringify(r)]));
      } catch (err) {
        this.written = null; // read again next pass
        logger.error(`route table: ${(err as Error).message}`);
        for (const app of apps) unwritten.add(app.id);
      }
      return unwritten;
    }
    const names = new Set<string>();
    for (const [k, route] of wanted.entries()) {
      names.add(route.app);
      const json = JSON.stringify(route);
      if (written.get(route.app) === json) continue;
      try {
        this.writtenVersion = await routes.write(route);
        written.set(route.app, json);
      } catch (err) {
        logger.error(`route of ${route.app}: ${(err as Error).message}`);
        unwritten.add(apps[k]?.id ?? '');
      }
    }
    for (const name of [...written.keys()]) {
      if (names.has(name)) continue;
      const version = await routes.remove(name).catch(() => null);
      if (version !== null) this.writtenVersion = version;
      written.delete(name);
    }
    return unwritten;
  }
}
