/**
 * In-memory fakes of the reconcile pass's roles (pass.ts), for specs that run a pass in
 * milliseconds without a database, Redis or agents. They are the OTHER components as the pass
 * sees them, not the pass:
 *
 *   FakeCluster    the database: nodes, apps, releases, formation, instances, domains; what the
 *                  api does around the pass (releases, scale, rollbacks) and what agents report
 *                  (heartbeat). Its commit is all-or-nothing and moves releases by
 *                  release-lifecycle's rules (canMoveRelease, ReleaseTransitionError);
 *                  `beforeCommit` plays a writer that commits first (a rollback).
 *   FakeRouteTable the route table; FakeMessages, FakeNotifier, FakeLogger what is said;
 *   FakeClock      a clock that moves only when told.
 *
 * Route writes and wake-ups go to one `journal`, so a spec can read their order.
 */
import {
  type Allocation,
  type AppActivity,
  type HealthcheckSpec,
  type InstanceState,
  ONE_OFF_TYPES,
  ReleaseTransitionError,
  type ReleaseStatus,
  canMoveRelease,
  parseSize,
  sizeFields,
} from '@paas/platform';
import type { AppRoute } from '@paas/platform/routes';
import type {
  AppReleases,
  Clock,
  DesiredState,
  NodeNotifier,
  NodeRegistry,
  PassApp,
  PassFormation,
  PassInstance,
  PassLogger,
  PassMessages,
  PassNode,
  PassRelease,
  PassRoles,
  PlanCommitter,
  PlannedApp,
  RouteTable,
  ServingState,
  SettledEvent,
  WakeSignals,
} from './pass';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type FakeNode = Mutable<PassNode> & { address: string };
export type FakeInstance = Mutable<PassInstance>;
export type FakeRelease = Mutable<PassRelease> & {
  appId: string;
  status: ReleaseStatus;
  liveAt: string | null;
  deployError: string | null;
};
export type FakeFormation = Mutable<PassFormation> & { appId: string };

/** The size fake formations start at (512 MiB). */
const STANDARD_1X = sizeFields(parseSize('standard-1x'));

export class FakeClock implements Clock {
  constructor(private t = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  iso(): string {
    return new Date(this.t).toISOString();
  }
}

/** What an agent reports for one of its instances; undefined: `up`. */
export type Report = (i: FakeInstance) => { state: InstanceState; error?: string } | undefined;

export class FakeCluster implements NodeRegistry, DesiredState, PlanCommitter, ServingState {
  nodeRows: FakeNode[] = [];
  appRows: PassApp[] = [];
  releaseRows: FakeRelease[] = [];
  formationRows: FakeFormation[] = [];
  instanceRows: FakeInstance[] = [];
  domainRows: { appId: string; hostname: string }[] = [];
  /** What else holds memory on nodes (add-ons). */
  reservedRows: Allocation[] = [];
  /** Runs once, at the start of the next commit: a writer that commits before the pass does. */
  beforeCommit: (() => void) | undefined;
  /** Every noteWaiting, as `releaseId=note`. */
  readonly notes: string[] = [];
  private seq = 0;

  constructor(private readonly clock: FakeClock) {}

  // ---------------------------------------------------------------- what happens around the pass

  addNode(name: string, { memory = 4096, cpus = 4000, overcommit = 100 } = {}): FakeNode {
    const node: FakeNode = {
      id: `node-${name}`,
      name,
      address: `10.0.0.${this.nodeRows.length + 1}`,
      state: 'up',
      memory,
      overcommit,
      cpus,
      lastHeartbeatAt: this.clock.iso(),
    };
    this.nodeRows.push(node);
    return node;
  }

  addApp(name: string): PassApp {
    const app = { id: `app-${name}`, name };
    this.appRows.push(app);
    return app;
  }

  /**
   * A new release of `app`, as releases.ts makes one: deploying when it has an image, live
   * without, building while its build goes on; in effect, it supersedes the older deploying ones
   * and aligns the formation (web 1, others 0).
   */
  release(
    app: PassApp,
    {
      processTypes = { web: 'httpd' } as Record<string, string>,
      image = true,
      building = false,
      healthchecks = null as Record<string, HealthcheckSpec[]> | null,
    } = {},
  ): FakeRelease {
    const version = Math.max(0, ...this.releaseRows.filter((r) => r.appId === app.id).map((r) => r.version)) + 1;
    const release: FakeRelease = {
      id: `${app.name}-v${version}`,
      appId: app.id,
      version,
      status: building ? 'building' : image ? 'deploying' : 'live',
      processTypes,
      imageRef: image ? `127.0.0.1:5000/${app.name}:v${version}` : null,
      deployNote: null,
      healthchecks,
      liveAt: null,
      deployError: null,
    };
    this.releaseRows.push(release);
    if (!building) this.takeEffect(release);
    return release;
  }

  /** A building release's build is done: deploying, or superseded when a newer one took effect meanwhile. */
  built(release: FakeRelease): void {
    const newer = this.releaseRows.some(
      (r) =>
        r.appId === release.appId && r.version > release.version && (r.status === 'deploying' || r.status === 'live'),
    );
    this.move(release, newer ? 'superseded' : 'deploying');
    if (!newer) this.takeEffect(release);
  }

  scale(app: PassApp, type: string, change: Partial<PassFormation>): void {
    const row = this.formationRows.find((f) => f.appId === app.id && f.type === type);
    if (!row) throw new Error(`no formation row ${type} for ${app.name}`);
    Object.assign(row, change);
  }

  /**
   * Heartbeats of these nodes (default: every node): they are up, what they were told to stop
   * is gone, and every instance they run reports `report(i)` (default up, at an address).
   */
  heartbeat(names: readonly string[] = this.nodeRows.map((n) => n.name), report: Report = () => undefined): void {
    for (const name of names) {
      const node = this.node(name);
      node.lastHeartbeatAt = this.clock.iso();
      if (node.state === 'down') node.state = 'up';
      for (const i of this.instanceRows.filter((x) => x.nodeId === node.id)) {
        if (i.desired === 'stop') {
          this.instanceRows.splice(this.instanceRows.indexOf(i), 1);
          continue;
        }
        const r = report(i) ?? { state: 'up' };
        i.state = r.state;
        i.error = r.error ?? null;
        if (r.state === 'up' && i.address === null) i.address = `${node.address}:${30000 + ++this.seq}`;
      }
    }
  }

  node(name: string): FakeNode {
    const node = this.nodeRows.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** `type.number@node (vN, state)` of an app's instances that should run, sorted. */
  running(app: PassApp): string[] {
    return this.instanceRows
      .filter((i) => i.appId === app.id && i.desired === 'run')
      .map((i) => {
        const node = this.nodeRows.find((n) => n.id === i.nodeId)?.name ?? '?';
        const version = this.releaseRows.find((r) => r.id === i.releaseId)?.version ?? '?';
        return `${i.type}.${i.number}@${node} (v${version}, ${i.state})`;
      })
      .sort();
  }

  // ---------------------------------------------------------------- NodeRegistry

  async list(): Promise<PassNode[]> {
    return [...this.nodeRows].sort((a, b) => a.name.localeCompare(b.name)).map((n) => ({ ...n }));
  }

  async markDown(nodeIds: readonly string[], instanceIds: readonly string[]): Promise<void> {
    for (const n of this.nodeRows) if (nodeIds.includes(n.id)) n.state = 'down';
    for (const i of this.instanceRows) if (instanceIds.includes(i.id)) i.state = 'down';
  }

  async forget(instanceIds: readonly string[]): Promise<void> {
    this.instanceRows = this.instanceRows.filter((i) => !instanceIds.includes(i.id));
  }

  // ---------------------------------------------------------------- DesiredState

  async apps(): Promise<PassApp[]> {
    return [...this.appRows].sort((a, b) => a.name.localeCompare(b.name));
  }

  async releases(appId: string): Promise<AppReleases> {
    return {
      target: this.newest(appId, ['deploying', 'live']),
      live: this.newest(appId, ['live']),
      formation: this.formationRows.filter((f) => f.appId === appId).map((f) => ({ ...f })),
    };
  }

  async instances(): Promise<PassInstance[]> {
    return this.instanceRows.map((i) => ({ ...i }));
  }

  async reserved(): Promise<Allocation[]> {
    return this.reservedRows.map((a) => ({ ...a }));
  }

  async versions(releaseIds: readonly string[]): Promise<Map<string, number>> {
    return new Map(this.releaseRows.filter((r) => releaseIds.includes(r.id)).map((r) => [r.id, r.version]));
  }

  // ---------------------------------------------------------------- PlanCommitter

  async commit(plans: readonly PlannedApp[], at: string): Promise<void> {
    const before = this.beforeCommit;
    this.beforeCommit = undefined;
    before?.();
    const releases = this.releaseRows.map((r) => ({ ...r }));
    const instances = this.instanceRows.map((i) => ({ ...i }));
    try {
      for (const { appId, plan } of plans) {
        for (const s of plan.start) {
          this.instanceRows.push({
            id: `i${++this.seq}`,
            appId,
            releaseId: s.releaseId,
            type: s.type,
            number: s.number,
            nodeId: s.nodeId,
            state: 'starting',
            desired: 'run',
            size: s.size,
            memory: s.memory,
            cpuShares: s.cpuShares,
            cpuQuota: s.cpuQuota,
            replace: false,
            error: null,
            address: null,
          });
        }
        if (plan.goLive) {
          const release = this.move(this.find(plan.goLive, 'live'), 'live');
          release.liveAt = at;
          for (const r of this.releaseRows) {
            if (
              r.appId === release.appId &&
              r.version < release.version &&
              (r.status === 'deploying' || r.status === 'live')
            )
              this.move(r, 'superseded');
          }
        }
        if (plan.fail) this.move(this.find(plan.fail.releaseId, 'failed'), 'failed').deployError = plan.fail.reason;
      }
    } catch (err) {
      this.releaseRows.forEach((r, k) => Object.assign(r, releases[k]));
      this.instanceRows = instances;
      throw err;
    }
  }

  async stop(instanceIds: readonly string[]): Promise<void> {
    for (const id of instanceIds) {
      const i = this.instanceRows.find((x) => x.id === id);
      if (i) Object.assign(i, { desired: 'stop', state: 'stopping' });
    }
  }

  async noteWaiting(releaseId: string, note: string | null): Promise<void> {
    this.notes.push(`${releaseId}=${note}`);
    const release = this.releaseRows.find((r) => r.id === releaseId);
    if (release?.status === 'deploying') release.deployNote = note;
  }

  async noteFormationWaiting(appId: string, type: string, waiting: number, reason: string | null): Promise<void> {
    const row = this.formationRows.find((f) => f.appId === appId && f.type === type);
    if (row) Object.assign(row, { waiting, waitingReason: reason });
  }

  async setQuantity(appId: string, type: string, from: number, to: number): Promise<boolean> {
    const row = this.formationRows.find((f) => f.appId === appId && f.type === type);
    if (!row || row.quantity !== from) return false;
    Object.assign(row, { quantity: to, updatedAt: new Date(this.clock.now()) });
    return true;
  }

  // ---------------------------------------------------------------- ServingState

  async liveRelease(appId: string): Promise<PassRelease | null> {
    return this.newest(appId, ['live']);
  }

  async domains(): Promise<{ appId: string; hostname: string }[]> {
    return [...this.domainRows].sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  // ---------------------------------------------------------------- helpers

  private newest(appId: string, states: readonly ReleaseStatus[]): FakeRelease | null {
    const found = this.releaseRows
      .filter((r) => r.appId === appId && states.includes(r.status))
      .sort((a, b) => b.version - a.version)[0];
    return found ? { ...found } : null;
  }

  private find(id: string, to: ReleaseStatus): FakeRelease {
    const release = this.releaseRows.find((r) => r.id === id);
    if (!release) throw new ReleaseTransitionError(id, to, null, null);
    return release;
  }

  private move(release: FakeRelease, to: ReleaseStatus): FakeRelease {
    if (!canMoveRelease(release.status, to))
      throw new ReleaseTransitionError(release.id, to, release.status, release.version);
    release.status = to;
    if (to !== 'deploying') release.deployNote = null;
    return release;
  }

  private takeEffect(release: FakeRelease): void {
    for (const r of this.releaseRows) {
      if (r.appId !== release.appId || r.version >= release.version) continue;
      if (r.status === 'deploying' || (release.status === 'live' && r.status === 'live')) this.move(r, 'superseded');
    }
    const types = Object.keys(release.processTypes).filter((t) => !ONE_OFF_TYPES.has(t));
    this.formationRows = this.formationRows.filter((f) => f.appId !== release.appId || types.includes(f.type));
    for (const type of types) {
      if (!this.formationRows.some((f) => f.appId === release.appId && f.type === type))
        this.formationRows.push({
          appId: release.appId,
          type,
          quantity: type === 'web' ? 1 : 0,
          ...STANDARD_1X,
          waiting: 0,
          waitingReason: null,
        });
    }
  }
}

export class FakeRouteTable implements RouteTable {
  /** The table as the routers would read it: app -> JSON ('' for an entry that does not parse). */
  readonly table = new Map<string, string>();
  writes = 0;
  private tableVersion = 0;

  /** Redis is down: every call fails, as ioredis's do once its offline queue is off. */
  down = false;

  constructor(private readonly journal: string[]) {}

  async read(): Promise<Map<string, string>> {
    if (this.down) throw new Error('Connection is closed.');
    return new Map(this.table);
  }
  async version(): Promise<number> {
    if (this.down) throw new Error('Connection is closed.');
    return this.tableVersion;
  }
  /** Apps whose route writes fail (one HSET lost while the rest of Redis answers). */
  readonly failing = new Set<string>();

  async write(route: AppRoute): Promise<number> {
    if (this.down || this.failing.has(route.app)) throw new Error('Connection is closed.');
    this.writes++;
    this.table.set(route.app, JSON.stringify(route));
    this.journal.push(`route ${route.app}: ${route.backends.map((b) => `${b.id}@${b.address}`).join(' ')}`.trim());
    return ++this.tableVersion;
  }
  async remove(app: string): Promise<number> {
    if (this.down) throw new Error('Connection is closed.');
    this.writes++;
    this.table.delete(app);
    this.journal.push(`unroute ${app}`);
    return ++this.tableVersion;
  }
  async rebuild(routes: readonly AppRoute[], past: number): Promise<number> {
    this.writes++;
    this.table.clear();
    for (const route of routes) this.table.set(route.app, JSON.stringify(route));
    this.journal.push(`rebuild ${routes.map((r) => r.app).join(' ')}`);
    this.tableVersion = Math.max(this.tableVersion, past) + 2;
    return this.tableVersion;
  }
  /** Redis restarted without its data: the table and its version are gone. */
  lose(): void {
    this.table.clear();
    this.tableVersion = 0;
  }
  /** An app's backends as `id@address`. */
  backends(app: string): string[] {
    const json = this.table.get(app);
    return json ? (JSON.parse(json) as AppRoute).backends.map((b) => `${b.id}@${b.address}`) : [];
  }
}

export class FakeMessages implements PassMessages {
  readonly lines: { appId: string; line: string }[] = [];
  readonly settledEvents: SettledEvent[] = [];
  async line(appId: string, line: string): Promise<void> {
    this.lines.push({ appId, line });
  }
  settled(event: SettledEvent): void {
    this.settledEvents.push(event);
  }
  /** The lines said since the last call. */
  take(): string[] {
    return this.lines.splice(0).map((l) => l.line);
  }
}

/** What the routers saw and asked for (libs/platform wake.ts), by app name. */
export class FakeWakeSignals implements WakeSignals {
  readonly seen = new Map<string, AppActivity>();
  readonly asked = new Map<string, number>();
  /** Every `taken`, by app name, in order. */
  readonly taken_: string[] = [];
  /** The app names of every `activity` read, in order. */
  readonly reads: string[][] = [];

  async activity(apps: readonly string[]): Promise<Map<string, AppActivity>> {
    this.reads.push([...apps]);
    return new Map(apps.flatMap((app) => (this.seen.has(app) ? [[app, this.seen.get(app) as AppActivity]] : [])));
  }

  async wakes(apps: readonly string[]): Promise<Map<string, number>> {
    return new Map(apps.flatMap((app) => (this.asked.has(app) ? [[app, this.asked.get(app) as number]] : [])));
  }

  async taken(app: string): Promise<void> {
    this.asked.delete(app);
    this.taken_.push(app);
  }

  /** What routers said of first bytes, by app name (taken once read). */
  readonly firstBytes = new Map<string, number>();
  async firstByte(app: string): Promise<number | null> {
    const ms = this.firstBytes.get(app) ?? null;
    this.firstBytes.delete(app);
    return ms;
  }
}

export class FakeNotifier implements NodeNotifier {
  constructor(private readonly journal: string[]) {}
  async wake(nodeNames: ReadonlySet<string>): Promise<void> {
    for (const name of [...nodeNames].sort()) this.journal.push(`wake ${name}`);
  }
}

export class FakeLogger implements PassLogger {
  readonly messages: string[] = [];
  log(message: string): void {
    this.messages.push(message);
  }
  warn(message: string): void {
    this.messages.push(message);
  }
  error(message: string): void {
    this.messages.push(message);
  }
}

export interface FakeRoles extends PassRoles {
  readonly nodes: FakeCluster;
  readonly routes: FakeRouteTable;
  readonly messages: FakeMessages;
  readonly clock: FakeClock;
  readonly logger: FakeLogger;
  readonly cluster: FakeCluster;
  readonly wakes: FakeWakeSignals;
  /** Route writes and wake-ups, in order. */
  readonly journal: string[];
}

/** Every role of a pass, faked, over one FakeCluster. */
export function fakeRoles(): FakeRoles {
  const journal: string[] = [];
  const clock = new FakeClock();
  const cluster = new FakeCluster(clock);
  return {
    nodes: cluster,
    desired: cluster,
    committer: cluster,
    serving: cluster,
    cluster,
    routes: new FakeRouteTable(journal),
    messages: new FakeMessages(),
    notifier: new FakeNotifier(journal),
    clock,
    logger: new FakeLogger(),
    wakes: new FakeWakeSignals(),
    journal,
  };
}
