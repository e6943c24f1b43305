/**
 * The route table: the contract between the control plane, which writes it, and the routers
 * (apps/proxy), which read it. It lives in Redis under three names:
 *
 *   paas:routes          hash     app name -> JSON route of that app (below)
 *   paas:routes:version  string   a counter; every change to the hash increments it
 *   paas:routes          channel  every change publishes {"version":N,"app":"NAME"}
 *
 * One app's route, as stored:
 *
 *   {"app":"shop",
 *    "hosts":["shop.example.com"],                       custom domains, lower case
 *    "backends":[{"id":"web.1","address":"10.88.0.5:5000"},
 *                {"id":"web.2","address":"[fd00::7]:5000"}],
 *    "check":{"type":"http","path":"/health"}}           or {"type":"tcp"}; absent means tcp
 *
 * A router answers `APP.<PAAS_DOMAIN>` (its own domain, so routers on different domains share
 * one table) and every host in `hosts`, and sends requests to `backends`, the instances that
 * passed their deploy check; its active checks then probe each backend with `check`. An app
 * with no backends answers 503; an app not in the table answers 404. The table is keyed by
 * app, not host, so an app without custom domains still has an entry and removing an app is
 * one HDEL; routers build their host index themselves.
 *
 * Writers (`setAppRoutes`, `removeAppRoutes`; the scheduler calls them) change the hash, bump
 * the version and publish in one Lua script: the change is atomic, and messages arrive in
 * version order. Readers (`RouteWatcher`) load the whole table with its version in one MULTI,
 * then on a message whose version is theirs + 1 re-read that one app; on a gap (a message
 * missed while disconnected), on a reconnect, or when the periodic version check finds the
 * version moved (or went back: a Redis restarted empty), they reload the whole table. An
 * entry that does not parse is reported and skipped, never fatal: the rest of the table works.
 *
 * A Redis that lost the table (restarted without its data, or from an older snapshot) shows
 * a version lower than the one last seen. A reader then keeps serving the table it has while
 * the one in Redis is empty (every app would answer 404, though nothing was removed), and a
 * writer that finds the version went back writes its whole table again in one script
 * (`rebuildRoutes`): it bumps the version by two, so every reader sees a gap and reloads the
 * table whole, never half rebuilt.
 *
 * Routers also publish their request metrics for the dashboard:
 *
 *   paas:router-metrics  hash     router id -> JSON RouterMetrics (below), rewritten every
 *                                 few seconds; readers ignore entries older than ~10 s
 */
import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import { HOSTNAME, ROUTABLE_APP_NAME_RULE, isRoutableAppName } from './names';
import { PaasError } from '@paas/errors';

export { connectRedis, RedisUrlError, redactRedisUrl } from './redis';

export const ROUTES_KEY = 'paas:routes';
export const ROUTES_VERSION_KEY = 'paas:routes:version';
export const ROUTES_CHANNEL = 'paas:routes';
const ROUTER_METRICS_KEY = 'paas:router-metrics';

/** Limits that keep one entry from flooding every router's memory. */
const MAX_HOSTS = 100;
const MAX_BACKENDS = 1000;

export interface Backend {
  /** The instance's id (for logs and metrics), e.g. `web.1` or a container id. */
  readonly id: string;
  /** `IPV4:PORT` or `[IPV6]:PORT`. */
  readonly address: string;
}

/** How routers probe a backend: an HTTP GET answered 2xx/3xx, or a TCP connect. */
export type HealthCheck = { readonly type: 'http'; readonly path: string } | { readonly type: 'tcp' };

export interface AppRoute {
  readonly app: string;
  readonly hosts: readonly string[];
  readonly backends: readonly Backend[];
  readonly check: HealthCheck;
}

/** A route that cannot be stored or was stored broken; the message says which app and field. */
export class RouteError extends PaasError {
  constructor(
    readonly app: string,
    reason: string,
  ) {
    super('invalid_params', `route of app ${JSON.stringify(app)}: ${reason}`);
  }
}

/** `IPV4:PORT` or `[IPV6]:PORT` split, or null when it is neither. */
export function parseAddress(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4) return null;
  return { host, port };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function validCheck(app: string, check: unknown): HealthCheck {
  if (check === undefined || check === null) return { type: 'tcp' };
  if (typeof check !== 'object') throw new RouteError(app, `check ${describe(check)} is not an object`);
  const { type, path } = check as { type?: unknown; path?: unknown };
  if (type === 'tcp') return { type: 'tcp' };
  if (type !== 'http') throw new RouteError(app, `check.type ${describe(type)} is neither "http" nor "tcp"`);
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (typeof path !== 'string' || !/^\/[^\s\x00-\x1f\x7f]{0,1023}$/.test(path)) {
    throw new RouteError(app, `check.path ${describe(path)} must start with / and hold no spaces or controls`);
  }
  return { type: 'http', path };
}

/** Checks a route as written or read; returns it normalized (hosts lower case, check filled). */
export function validateRoute(input: { app: unknown; hosts?: unknown; backends?: unknown; check?: unknown }): AppRoute {
  const app = typeof input.app === 'string' ? input.app : describe(input.app);
  if (typeof input.app !== 'string' || !isRoutableAppName(input.app)) {
    throw new RouteError(app, `the app name is not ${ROUTABLE_APP_NAME_RULE}`);
  }
  const hostsIn = input.hosts ?? [];
  if (!Array.isArray(hostsIn)) throw new RouteError(app, `hosts ${describe(hostsIn)} is not an array`);
  if (hostsIn.length > MAX_HOSTS) throw new RouteError(app, `${hostsIn.length} hosts, more than ${MAX_HOSTS}`);
  const hosts: string[] = [];
  hostsIn.forEach((host: unknown, i) => {
    const name = typeof host === 'string' ? host.toLowerCase().replace(/\.$/, '') : '';
    if (!HOSTNAME.test(name)) throw new RouteError(app, `hosts[${i}] ${describe(host)} is not a host name`);
    if (!hosts.includes(name)) hosts.push(name);
  });
  const backendsIn = input.backends ?? [];
  if (!Array.isArray(backendsIn)) throw new RouteError(app, `backends ${describe(backendsIn)} is not an array`);
  if (backendsIn.length > MAX_BACKENDS) {
    throw new RouteError(app, `${backendsIn.length} backends, more than ${MAX_BACKENDS}`);
  }
  const backends: Backend[] = [];
  const seen = new Set<string>();
  backendsIn.forEach((backend: unknown, i) => {
    const { id, address } = (typeof backend === 'object' && backend !== null ? backend : {}) as {
      id?: unknown;
      address?: unknown;
    };
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
      throw new RouteError(app, `backends[${i}].id ${describe(id)} is not a string of 1-200 characters`);
    }
    if (typeof address !== 'string' || !parseAddress(address)) {
      throw new RouteError(app, `backends[${i}].address ${describe(address)} is not IPV4:PORT or [IPV6]:PORT`);
    }
    if (seen.has(address)) throw new RouteError(app, `backends[${i}].address ${address} is listed twice`);
    seen.add(address);
    backends.push({ id, address });
  });
  return { app: input.app, hosts, backends, check: validCheck(app, input.check) };
}

/** Parses one stored entry (`paas:routes` field `app`); throws RouteError saying what is wrong. */
export function parseAppRoute(app: string, json: string): AppRoute {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new RouteError(app, `${ROUTES_KEY} holds ${describe(json)}, which is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RouteError(app, `${ROUTES_KEY} holds ${describe(value)}, which is not an object`);
  }
  const route = validateRoute(value as { app: unknown });
  if (route.app !== app) throw new RouteError(app, `the entry names app ${JSON.stringify(route.app)}`);
  return route;
}

// KEYS: routes hash, version key. ARGV: app, JSON (empty to remove), channel.
// Returns the new version, or -1 when removing an app that was not there.
const WRITE_SCRIPT = `
if ARGV[2] == '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], '{"version":' .. version .. ',"app":"' .. ARGV[1] .. '"}')
return version
`;

/**
 * Sets where `app` is served: its custom `hosts` (APP.<domain> is implied) and its healthy
 * `backends`, replacing what was there. Returns the table's new version.
 */
export async function setAppRoutes(
  redis: Redis,
  app: string,
  hosts: readonly string[],
  backends: readonly Backend[],
  check?: HealthCheck,
): Promise<number> {
  const route = validateRoute({ app, hosts, backends, check });
  const version = await redis.eval(
    WRITE_SCRIPT,
    2,
    ROUTES_KEY,
    ROUTES_VERSION_KEY,
    app,
    JSON.stringify(route),
    ROUTES_CHANNEL,
  );
  return Number(version);
}

// KEYS: routes hash, version key. ARGV: channel, then app and JSON pairs. Returns the new version.
const REBUILD_SCRIPT = `
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local version = redis.call('INCRBY', KEYS[2], 2)
redis.call('PUBLISH', ARGV[1], '{"version":' .. version .. ',"app":"' .. (ARGV[2] or '') .. '"}')
return version
`;

/**
 * Replaces the whole table with `routes` at once, for a writer that found it lost (see the top
 * of this file): readers reload it whole. Returns the table's new version.
 */
export async function rebuildRoutes(redis: Redis, routes: readonly AppRoute[]): Promise<number> {
  const pairs = routes.flatMap((r) => {
    const route = validateRoute(r);
    return [route.app, JSON.stringify(route)];
  });
  return Number(await redis.eval(REBUILD_SCRIPT, 2, ROUTES_KEY, ROUTES_VERSION_KEY, ROUTES_CHANNEL, ...pairs));
}

/** The table's version (0 when Redis has none). */
export async function routesVersion(redis: Redis): Promise<number> {
  return versionOf(await redis.get(ROUTES_VERSION_KEY));
}

/** Removes `app` from the table; its hosts then answer 404. Returns the new version, or null if it was absent. */
export async function removeAppRoutes(redis: Redis, app: string): Promise<number | null> {
  if (!isRoutableAppName(app)) throw new RouteError(app, `the app name is not ${ROUTABLE_APP_NAME_RULE}`);
  const version = Number(await redis.eval(WRITE_SCRIPT, 2, ROUTES_KEY, ROUTES_VERSION_KEY, app, '', ROUTES_CHANNEL));
  return version < 0 ? null : version;
}

export interface InvalidRoute {
  readonly app: string;
  readonly error: string;
}

export interface RouteTable {
  readonly version: number;
  readonly routes: Map<string, AppRoute>;
  /** Entries skipped because they do not parse. */
  readonly invalid: InvalidRoute[];
}

function execResults(results: [Error | null, unknown][] | null, what: string): unknown[] {
  if (!results) throw new Error(`redis: the MULTI reading ${what} was discarded`);
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function versionOf(value: unknown): number {
  const version = Number(value ?? 0);
  return Number.isSafeInteger(version) && version >= 0 ? version : 0;
}

/** The whole table and its version, read in one MULTI so they agree. */
export async function readRouteTable(redis: Redis): Promise<RouteTable> {
  const [version, entries] = execResults(
    await redis.multi().get(ROUTES_VERSION_KEY).hgetall(ROUTES_KEY).exec(),
    ROUTES_KEY,
  );
  const routes = new Map<string, AppRoute>();
  const invalid: InvalidRoute[] = [];
  for (const [app, json] of Object.entries((entries ?? {}) as Record<string, string>)) {
    try {
      routes.set(app, parseAppRoute(app, json));
    } catch (err) {
      invalid.push({ app, error: (err as Error).message });
    }
  }
  return { version: versionOf(version), routes, invalid };
}

/** One app's route (null when absent) and the table's version, read together. */
export async function readAppRoute(
  redis: Redis,
  app: string,
): Promise<{ version: number; route: AppRoute | null; error?: string }> {
  const [version, json] = execResults(
    await redis.multi().get(ROUTES_VERSION_KEY).hget(ROUTES_KEY, app).exec(),
    `${ROUTES_KEY} ${app}`,
  );
  if (json === null || json === undefined) return { version: versionOf(version), route: null };
  try {
    return { version: versionOf(version), route: parseAppRoute(app, String(json)) };
  } catch (err) {
    return { version: versionOf(version), route: null, error: (err as Error).message };
  }
}

/** A change announcement, or null when the text is not one. */
export function parseRouteMessage(text: string): { version: number; app: string } | null {
  try {
    const value = JSON.parse(text) as { version?: unknown; app?: unknown };
    if (typeof value !== 'object' || value === null) return null;
    const { version, app } = value;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return null;
    if (typeof app !== 'string' || !isRoutableAppName(app)) return null;
    return { version, app };
  } catch {
    return null;
  }
}

export interface RouteChange {
  readonly version: number;
  /** The apps whose entry changed, or 'all' after a full reload. */
  readonly apps: readonly string[] | 'all';
}

export interface RouteWatcherOptions {
  /** A connection for reads. */
  readonly reader: Redis;
  /** A connection of its own: once subscribed it can do nothing else. */
  readonly subscriber: Redis;
  /** How often to compare versions, in case a message was lost (default 5 s). */
  readonly resyncMs?: number;
  /** Called after each applied change, with the whole table. */
  onChange(routes: ReadonlyMap<string, AppRoute>, change: RouteChange): void;
  /** Invalid entries, unreadable messages, failed reads: worth a log line, never fatal. */
  onProblem?(message: string): void;
}

/** Keeps a live copy of the route table (see the top of this file for the protocol). */
export class RouteWatcher {
  private current = new Map<string, AppRoute>();
  private currentVersion = -1;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Redis holds an empty table at an older version, and this one is served meanwhile. */
  private holding = false;
  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== ROUTES_CHANNEL) return;
    const message = parseRouteMessage(text);
    if (!message) {
      this.problem(`${ROUTES_CHANNEL}: ignored a message that is not {"version":N,"app":NAME}: ${describe(text)}`);
      this.enqueue(() => this.reload(false));
      return;
    }
    this.enqueue(() => this.apply(message));
  };
  private readonly onReady = (): void => {
    // A reconnect: messages may have been missed meanwhile.
    if (this.currentVersion >= 0) this.enqueue(() => this.reload(false));
  };

  constructor(private readonly options: RouteWatcherOptions) {}

  get version(): number {
    return this.currentVersion;
  }

  get routes(): ReadonlyMap<string, AppRoute> {
    return this.current;
  }

  /** Subscribes, then loads the whole table; resolves once it is loaded. */
  async start(): Promise<void> {
    const { subscriber } = this.options;
    subscriber.on('message', this.onMessage);
    subscriber.on('ready', this.onReady);
    await subscriber.subscribe(ROUTES_CHANNEL);
    await this.enqueue(() => this.reload(true));
    this.timer = setInterval(() => {
      if (this.pending === 0) this.enqueue(() => this.resync());
    }, this.options.resyncMs ?? 5000);
    this.timer.unref();
  }

  /** Stops listening; the connections stay open (their owner closes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.options.subscriber.off('message', this.onMessage);
    this.options.subscriber.off('ready', this.onReady);
    await this.options.subscriber.unsubscribe(ROUTES_CHANNEL).catch(() => undefined);
  }

  private problem(message: string): void {
    this.options.onProblem?.(message);
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = this.chain.then(async () => {
      try {
        if (!this.stopped) await job();
      } finally {
        this.pending--;
      }
    });
    this.chain = run.catch((err: unknown) => this.problem(`route table: ${(err as Error).message}`));
    return run;
  }

  private async apply(message: { version: number; app: string }): Promise<void> {
    if (message.version !== this.currentVersion + 1) {
      // A gap (missed messages) or a version that went back (Redis restarted empty).
      await this.reload(false);
      return;
    }
    const read = await readAppRoute(this.options.reader, message.app);
    if (read.version !== message.version) {
      // More changes landed since this message: take them all at once.
      await this.reload(false);
      return;
    }
    if (read.error) this.problem(`${ROUTES_KEY}: skipped app ${JSON.stringify(message.app)}: ${read.error}`);
    const next = new Map(this.current);
    if (read.route) next.set(message.app, read.route);
    else next.delete(message.app);
    this.current = next;
    this.currentVersion = read.version;
    this.options.onChange(this.current, { version: read.version, apps: [message.app] });
  }

  private async reload(initial: boolean): Promise<void> {
    const table = await readRouteTable(this.options.reader);
    for (const bad of table.invalid)
      this.problem(`${ROUTES_KEY}: skipped app ${JSON.stringify(bad.app)}: ${bad.error}`);
    if (!initial && table.version === this.currentVersion) return;
    if (!initial && table.version < this.currentVersion && table.routes.size === 0 && this.current.size > 0) {
      if (!this.holding)
        this.problem(
          `${ROUTES_KEY} is empty at version ${table.version}, older than ${this.currentVersion} (Redis lost it?): ` +
            'serving the last table until the control plane writes it again',
        );
      this.holding = true;
      return;
    }
    this.holding = false;
    this.current = table.routes;
    this.currentVersion = table.version;
    this.options.onChange(this.current, { version: table.version, apps: 'all' });
  }

  private async resync(): Promise<void> {
    const version = versionOf(await this.options.reader.get(ROUTES_VERSION_KEY));
    if (version !== this.currentVersion) await this.reload(false);
  }
}

/** Request counters of one app on one router (all its workers). */
export interface AppMetrics {
  /** Requests answered since the router started. */
  readonly requests: number;
  /** Requests per second over the last few seconds. */
  readonly requestsPerSecond: number;
  /** Requests being answered now (open websockets included). */
  readonly inflight: number;
  /** Responses by status class; 5xx includes the router's own 502/503/504 pages. */
  readonly status: { readonly '2xx': number; readonly '3xx': number; readonly '4xx': number; readonly '5xx': number };
  /** Response body bytes sent. */
  readonly bytes: number;
}

export interface RouterMetrics {
  /** The router's id (PAAS_ROUTER_ID, by default HOSTNAME:PORT). */
  readonly router: string;
  /** When it was measured, in ms since the epoch. */
  readonly time: number;
  readonly apps: Readonly<Record<string, AppMetrics>>;
}

export async function publishRouterMetrics(redis: Redis, metrics: RouterMetrics): Promise<void> {
  await redis.hset(ROUTER_METRICS_KEY, metrics.router, JSON.stringify(metrics));
}

export async function removeRouterMetrics(redis: Redis, router: string): Promise<void> {
  await redis.hdel(ROUTER_METRICS_KEY, router);
}

/** Every router's latest metrics, skipping (and deleting) entries older than `maxAgeMs`. */
export async function readRouterMetrics(redis: Redis, maxAgeMs = 10_000, now = Date.now()): Promise<RouterMetrics[]> {
  const entries = await redis.hgetall(ROUTER_METRICS_KEY);
  const fresh: RouterMetrics[] = [];
  const stale: string[] = [];
  for (const [router, json] of Object.entries(entries)) {
    let value: RouterMetrics | undefined;
    try {
      value = JSON.parse(json) as RouterMetrics;
    } catch {
      value = undefined;
    }
    if (!value || typeof value.time !== 'number' || typeof value.apps !== 'object' || now - value.time > maxAgeMs) {
      stale.push(router);
    } else {
      fresh.push({ ...value, router });
    }
  }
  if (stale.length > 0) await redis.hdel(ROUTER_METRICS_KEY, ...stale);
  return fresh.sort((a, b) => a.router.localeCompare(b.router));
}
