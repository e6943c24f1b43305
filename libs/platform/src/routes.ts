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
 *    "check":{"type":"http","path":"/health"},           or {"type":"tcp"}; absent means tcp
 *    "https":{"redirect":true,"hstsMaxAge":31536000},    optional; absent means both off
 *    "maintenance":true,                                 optional; absent means off
 *    "sleeping":true,                                    optional; absent means awake
 *    "wakeRetryAt":1765100000000,                        optional; with sleeping, after a failed wake
 *    "hardLimit":25}                                     optional; absent means no limit
 *
 * A router answers `APP.<PAAS_DOMAIN>` (its own domain, so routers on different domains share
 * one table) and every host in `hosts`, and sends requests to `backends`, the instances that
 * passed their deploy check; its active checks then probe each backend with `check`. An app
 * with no backends answers 503; an app not in the table answers 404. The table is keyed by
 * app, not host, so an app without custom domains still has an entry and removing an app is
 * one HDEL; routers build their host index themselves. With `https.redirect` a router answers
 * plain HTTP (but the ACME challenge path) with a 308 to https://; with `https.hstsMaxAge` its
 * HTTPS responses carry Strict-Transport-Security. With `maintenance` (`paas maintenance:on`)
 * a router answers every request of the app, on every host, over HTTP and HTTPS (but the ACME
 * challenge path), with 503 and a maintenance page, and sends nothing to its backends, which
 * stay in the entry and keep running: turning it off serves them again at the next write.
 * An entry is written with `maintenance` only when it is on, so routers that predate it, which
 * ignore the field, read the same table as before.
 *
 * `sleeping` (scale to zero, wake.ts): the app's web process has autoscale with min 0 and no
 * instance serves; a router holds its requests (a bounded queue, a bounded wait) and asks for
 * a wake, instead of answering 503, and sends them on once a backend appears in the entry.
 * `wakeRetryAt` (ms since the epoch): the last wake failed, and none is asked for before then;
 * until then requests answer 503 with Retry-After. Both are written only when set.
 *
 * `hardLimit` (`ps:autoscale:enable web --hard-limit N`, Fly's hard_limit): a router worker
 * sends no backend of the app more than N requests (open websockets included) at once; beyond,
 * requests wait in a bounded queue for the first backend below N, then answer 503. Written only
 * when set.
 *
 * The mechanics below are versioned-table.ts's, shared with the certificate table (certs/table.ts).
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
import { MAX_CONCURRENCY } from './formation';
import { HOSTNAME, ROUTABLE_APP_NAME_RULE, isRoutableAppName } from './names';
import { PaasError } from '@paas/errors';
import {
  type TableChange,
  type TableSpec,
  TableWatcher,
  type TableWatcherOptions,
  describe,
  parseChangeMessage,
  readEntry,
  readTable,
  rebuildTable,
  tableVersion,
  writeEntry,
} from './versioned-table';

export { connectRedis, RedisUrlError, redactRedisUrl } from './redis';
export {
  type RouterActivity,
  WAKE_ASK_TTL_MS,
  removeActivity,
  reportActivity,
  reportFirstByte,
  requestWake,
} from './wake';

export const ROUTES_KEY = 'paas:routes';
export const ROUTES_VERSION_KEY = 'paas:routes:version';
export const ROUTES_CHANNEL = 'paas:routes';
const ROUTER_METRICS_KEY = 'paas:router-metrics';

/** Limits that keep one entry from flooding every router's memory. */
const MAX_HOSTS = 100;
const MAX_BACKENDS = 1000;
/** The largest hard limit a route may carry (formation.ts MAX_CONCURRENCY: the limit is never below the target). */
const MAX_HARD_LIMIT = MAX_CONCURRENCY;

export interface Backend {
  /** The instance's id (for logs and metrics), e.g. `web.1` or a container id. */
  readonly id: string;
  /** `IPV4:PORT` or `[IPV6]:PORT`. */
  readonly address: string;
}

/** How routers probe a backend: an HTTP GET answered 2xx/3xx, or a TCP connect. */
export type HealthCheck = { readonly type: 'http'; readonly path: string } | { readonly type: 'tcp' };

/** An app's HTTPS policy on the routers; absent, both are off. */
export interface HttpsSettings {
  /** Plain HTTP requests (but ACME HTTP-01 challenges) answer 308 to the same URL over https. */
  readonly redirect: boolean;
  /** Strict-Transport-Security: max-age=N on HTTPS responses; null for none. */
  readonly hstsMaxAge: number | null;
}

export interface AppRoute {
  readonly app: string;
  readonly hosts: readonly string[];
  readonly backends: readonly Backend[];
  readonly check: HealthCheck;
  readonly https?: HttpsSettings;
  /** `paas maintenance:on`: every request answers 503 and a maintenance page; absent when off. */
  readonly maintenance?: true;
  /** Scaled to zero: hold requests and ask for a wake; absent when awake. */
  readonly sleeping?: true;
  /** After a failed wake: no wake before this time (ms since the epoch); absent otherwise. */
  readonly wakeRetryAt?: number;
  /** Requests at once per backend per router worker; beyond, they queue (then 503). Absent: no limit. */
  readonly hardLimit?: number;
}

/** Ten years: a longer max-age is a typo, not a policy. */
const MAX_HSTS_AGE = 10 * 365 * 86_400;

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

function validHttps(app: string, https: unknown): HttpsSettings | undefined {
  if (https === undefined || https === null) return undefined;
  if (typeof https !== 'object' || Array.isArray(https)) {
    throw new RouteError(app, `https ${describe(https)} is not an object`);
  }
  const { redirect, hstsMaxAge } = https as { redirect?: unknown; hstsMaxAge?: unknown };
  if (typeof redirect !== 'boolean') throw new RouteError(app, `https.redirect ${describe(redirect)} is not a boolean`);
  if (
    hstsMaxAge !== null &&
    (typeof hstsMaxAge !== 'number' || !Number.isSafeInteger(hstsMaxAge) || hstsMaxAge < 0 || hstsMaxAge > MAX_HSTS_AGE)
  ) {
    throw new RouteError(
      app,
      `https.hstsMaxAge ${describe(hstsMaxAge)} is neither null nor whole seconds from 0 to ${MAX_HSTS_AGE}`,
    );
  }
  return { redirect, hstsMaxAge };
}

/** On (true) or off; `false` is off as absence is, and normalized away. */
function validMaintenance(app: string, maintenance: unknown): boolean {
  if (maintenance === undefined || maintenance === null) return false;
  if (typeof maintenance !== 'boolean')
    throw new RouteError(app, `maintenance ${describe(maintenance)} is not a boolean`);
  return maintenance;
}

/**
 * Checks a route as written or read; returns it normalized (hosts lower case, check filled,
 * `https` present when given, `maintenance` only when on).
 */
export function validateRoute(input: {
  app: unknown;
  hosts?: unknown;
  backends?: unknown;
  check?: unknown;
  https?: unknown;
  maintenance?: unknown;
  sleeping?: unknown;
  wakeRetryAt?: unknown;
  hardLimit?: unknown;
}): AppRoute {
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
  const check = validCheck(app, input.check);
  const https = validHttps(app, input.https);
  const maintenance = validMaintenance(app, input.maintenance);
  if (input.sleeping !== undefined && input.sleeping !== null && typeof input.sleeping !== 'boolean')
    throw new RouteError(app, `sleeping ${describe(input.sleeping)} is not a boolean`);
  const retry = input.wakeRetryAt;
  if (retry !== undefined && retry !== null && (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0))
    throw new RouteError(app, `wakeRetryAt ${describe(retry)} is not a time in ms since the epoch`);
  const limit = input.hardLimit;
  if (
    limit !== undefined &&
    limit !== null &&
    (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HARD_LIMIT)
  )
    throw new RouteError(app, `hardLimit ${describe(limit)} is not a whole number from 1 to ${MAX_HARD_LIMIT}`);
  const sleeping = input.sleeping === true;
  return {
    app: input.app,
    hosts,
    backends,
    check,
    ...(https === undefined ? {} : { https }),
    ...(maintenance ? { maintenance: true as const } : {}),
    ...(sleeping ? { sleeping: true as const } : {}),
    ...(sleeping && typeof retry === 'number' ? { wakeRetryAt: retry } : {}),
    ...(typeof limit === 'number' ? { hardLimit: limit } : {}),
  };
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

/** The route table's place in Redis and how its entries read (versioned-table.ts). */
const ROUTE_TABLE: TableSpec<AppRoute> = {
  key: ROUTES_KEY,
  versionKey: ROUTES_VERSION_KEY,
  channel: ROUTES_CHANNEL,
  parse: (app, json) => parseAppRoute(app, json),
};

/**
 * Sets where `app` is served: its custom `hosts` (APP.<domain> is implied), its healthy
 * `backends`, its HTTPS settings, whether it is in maintenance, whether it sleeps and its
 * hard limit, replacing what was there.
 * Returns the table's new version.
 */
export async function setAppRoutes(
  redis: Redis,
  app: string,
  hosts: readonly string[],
  backends: readonly Backend[],
  check?: HealthCheck,
  https?: HttpsSettings,
  maintenance = false,
  wake: { readonly sleeping?: boolean; readonly wakeRetryAt?: number; readonly hardLimit?: number } = {},
): Promise<number> {
  const route = validateRoute({ app, hosts, backends, check, https, maintenance, ...wake });
  return (await writeEntry(redis, ROUTE_TABLE, app, JSON.stringify(route))) ?? 0;
}

/**
 * Replaces the whole table with `routes` at once, for a writer that found it lost (see the top
 * of this file), its version past `past` (what this writer wrote last): readers reload it
 * whole. Returns the table's new version.
 */
export async function rebuildRoutes(redis: Redis, routes: readonly AppRoute[], past = 0): Promise<number> {
  const pairs = routes.map((r): [string, string] => {
    const route = validateRoute(r);
    return [route.app, JSON.stringify(route)];
  });
  return rebuildTable(redis, ROUTE_TABLE, pairs, past);
}

/** The table's version (0 when Redis has none). */
export async function routesVersion(redis: Redis): Promise<number> {
  return tableVersion(redis, ROUTE_TABLE);
}

/** Removes `app` from the table; its hosts then answer 404. Returns the new version, or null if it was absent. */
export async function removeAppRoutes(redis: Redis, app: string): Promise<number | null> {
  if (!isRoutableAppName(app)) throw new RouteError(app, `the app name is not ${ROUTABLE_APP_NAME_RULE}`);
  return writeEntry(redis, ROUTE_TABLE, app, null);
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

/** The whole table and its version, read in one MULTI so they agree. */
export async function readRouteTable(redis: Redis): Promise<RouteTable> {
  const table = await readTable(redis, ROUTE_TABLE);
  return {
    version: table.version,
    routes: table.entries,
    invalid: table.invalid.map((bad) => ({ app: bad.field, error: bad.error })),
  };
}

/** One app's route (null when absent) and the table's version, read together. */
export async function readAppRoute(
  redis: Redis,
  app: string,
): Promise<{ version: number; route: AppRoute | null; error?: string }> {
  const read = await readEntry(redis, ROUTE_TABLE, app);
  const error = read.invalid[0]?.error;
  return error === undefined
    ? { version: read.version, route: read.entry }
    : { version: read.version, route: null, error };
}

/** A change announcement, or null when the text is not one. */
export const parseRouteMessage = parseChangeMessage;

export type RouteChange = TableChange;

export type RouteWatcherOptions = TableWatcherOptions<AppRoute>;

/** Keeps a live copy of the route table (see the top of this file for the protocol). */
export class RouteWatcher extends TableWatcher<AppRoute> {
  constructor(options: RouteWatcherOptions) {
    super(ROUTE_TABLE, options);
  }

  get routes(): ReadonlyMap<string, AppRoute> {
    return this.entries;
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
