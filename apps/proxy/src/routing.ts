/**
 * The router's view of the route table: Host header -> app -> the backend to use next.
 *
 * Every worker holds one. The table itself comes from Redis (via the primary); which backends
 * are healthy comes from the primary's active checks (`setHealth`) and from the worker's own
 * failed connections (`coolDown`, passive health).
 */
import { isIP } from 'node:net';
import { type AppRoute, type HealthCheck, type HttpsSettings, parseAddress } from '@paas/platform/routes';

export class BackendState {
  /** Requests (and open websockets) this worker has on it now. */
  inflight = 0;
  /** What the active checks say. */
  healthy = true;
  /** Passive health: it refused a connection, so it is skipped until then (ms since epoch). */
  downUntil = 0;

  constructor(
    readonly id: string,
    readonly address: string,
    readonly host: string,
    readonly port: number,
  ) {}
}

export class AppState {
  /** Where the next round-robin scan starts. */
  cursor = 0;
  /** The Strict-Transport-Security value of its HTTPS responses, null for none. */
  readonly hsts: string | null;

  constructor(
    readonly name: string,
    readonly hosts: readonly string[],
    readonly backends: readonly BackendState[],
    readonly check: HealthCheck,
    readonly https?: HttpsSettings,
    /** `paas maintenance:on`: every request answers 503 and the maintenance page. */
    readonly maintenance = false,
    /** Scaled to zero (or waking): requests are held and a wake asked for, not answered 503. */
    readonly sleeping = false,
    /** After a failed wake: no wake asked before then (ms since the epoch); null otherwise. */
    readonly wakeRetryAt: number | null = null,
    /** Requests at once per backend (this worker's); null: no limit. */
    readonly hardLimit: number | null = null,
  ) {
    const age = https?.hstsMaxAge;
    this.hsts = age === undefined || age === null ? null : `max-age=${age}`;
  }
}

export type Lookup =
  | { readonly kind: 'app'; readonly app: AppState; readonly host: string }
  | { readonly kind: 'unknown'; readonly host: string }
  | { readonly kind: 'bad-host' };

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * The host a Host header names: lower case, without port or trailing dot; an IPv6 literal
 * keeps its brackets. Null when it is not a host name, an IP literal or either with a port.
 */
export function normalizeHost(header: string | undefined): string | null {
  if (!header || header.length > 300) return null;
  let host = header.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return null;
    const rest = host.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    const ip = host.slice(1, end);
    return isIP(ip) === 6 ? `[${ip}]` : null;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return HOST_NAME.test(host) ? host : null;
}

/** Where a request is addressed, or why it cannot be routed (a 400). */
export type RequestTarget =
  | {
      readonly kind: 'ok';
      /** What to route by: the authority of an absolute-form target, else the Host header. */
      readonly host: string | undefined;
      /** The origin-form target to forward, when the request came in absolute form. */
      readonly url?: string;
    }
  | { readonly kind: 'bad'; readonly reason: string };

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)$/i;

/**
 * RFC 9112 §3.2: a request with more than one Host header line, or an HTTP/1.1 request
 * with none, is refused (Node keeps the first of several, so they are counted in the raw
 * headers); §3.2.2: the authority of an absolute-form target replaces Host. An authority
 * with userinfo, or none at all, cannot be routed safely and is refused too. Whether the
 * host is a host name is `normalizeHost`'s to say (at lookup).
 */
export function requestTarget(url: string, rawHeaders: readonly string[], httpVersion: string): RequestTarget {
  let host: string | undefined;
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host = rawHeaders[i + 1];
    }
  }
  if (hosts > 1) return { kind: 'bad', reason: 'The request has more than one Host header.' };
  if (hosts === 0 && httpVersion !== '1.0') return { kind: 'bad', reason: 'The request has no Host header.' };
  if (url.startsWith('/') || url === '*') return { kind: 'ok', host };
  const absolute = ABSOLUTE_FORM.exec(url);
  if (!absolute) return { kind: 'bad', reason: 'The request target is neither a path nor an http(s) URL.' };
  const authority = absolute[1] as string;
  if (authority.includes('@')) return { kind: 'bad', reason: 'The request target has userinfo in its authority.' };
  if (authority === '') return { kind: 'bad', reason: 'The request target has no authority.' };
  if (host !== undefined && normalizeHost(host) === null) {
    return { kind: 'bad', reason: 'The Host header is not a host name.' };
  }
  const path = absolute[2] as string;
  return { kind: 'ok', host: authority, url: path.startsWith('/') ? path : `/${path}` };
}

/** How many raw Host headers keep their lookup cached (cleared when full). */
const HOST_CACHE_MAX = 4096;

export class Routing {
  private apps = new Map<string, AppState>();
  private hosts = new Map<string, AppState>();
  private backends = new Map<string, BackendState>();
  private down = new Set<string>();
  private cache = new Map<string, Lookup>();
  private readonly suffix: string;
  version = -1;

  constructor(readonly domain: string) {
    this.suffix = `.${domain}`;
  }

  /**
   * Replaces the table. Backend state (in-flight counts, cool-downs) carries over for
   * addresses that stay. `down` lists the addresses active checks say are down. Returns the
   * custom hosts that were refused, one sentence each.
   */
  setRoutes(routes: Iterable<AppRoute>, version: number, down: Iterable<string> = this.down): string[] {
    const problems: string[] = [];
    this.down = new Set(down);
    const apps = new Map<string, AppState>();
    const hosts = new Map<string, AppState>();
    const backends = new Map<string, BackendState>();
    const sorted = [...routes].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
    for (const route of sorted) {
      const states: BackendState[] = [];
      for (const b of route.backends) {
        let state = backends.get(b.address) ?? this.backends.get(b.address);
        const where = parseAddress(b.address);
        if (!where) continue; // validated by the table's reader; never trust twice-removed data blindly
        if (!state) state = new BackendState(b.id, b.address, where.host, where.port);
        state.healthy = !this.down.has(b.address);
        backends.set(b.address, state);
        states.push(state);
      }
      const app = new AppState(
        route.app,
        route.hosts,
        states,
        route.check,
        route.https,
        route.maintenance === true,
        route.sleeping === true,
        route.wakeRetryAt ?? null,
        route.hardLimit ?? null,
      );
      const previous = this.apps.get(route.app);
      if (previous && states.length > 0) app.cursor = previous.cursor % states.length;
      apps.set(route.app, app);
      for (const host of route.hosts) {
        const owner = hosts.get(host);
        if (host === this.domain || (host.endsWith(this.suffix) && host !== `${route.app}${this.suffix}`)) {
          problems.push(
            `app ${route.app} cannot claim ${host}: names under ${this.domain} belong to the apps so named`,
          );
        } else if (owner) {
          problems.push(`host ${host} is claimed by apps ${owner.name} and ${route.app}; ${owner.name} keeps it`);
        } else {
          hosts.set(host, app);
        }
      }
    }
    this.apps = apps;
    this.hosts = hosts;
    this.backends = backends;
    this.cache.clear();
    this.version = version;
    return problems;
  }

  /** Active health of one address, from the primary's checks. */
  setHealth(address: string, healthy: boolean): void {
    if (healthy) this.down.delete(address);
    else this.down.add(address);
    const state = this.backends.get(address);
    if (state) {
      state.healthy = healthy;
      if (healthy) state.downUntil = 0;
    }
  }

  /** Passive health: leave a backend that refused a connection alone for a while. */
  coolDown(backend: BackendState, until: number): void {
    backend.downUntil = until;
  }

  get size(): number {
    return this.apps.size;
  }

  appNames(): string[] {
    return [...this.apps.keys()];
  }

  app(name: string): AppState | undefined {
    return this.apps.get(name);
  }

  /** Which app a Host header asks for: a custom domain, else APP.<domain>. */
  lookup(header: string | undefined): Lookup {
    const key = header ?? '';
    const cached = this.cache.get(key);
    if (cached) return cached;
    const result = this.resolve(header);
    if (this.cache.size >= HOST_CACHE_MAX) this.cache.clear();
    this.cache.set(key, result);
    return result;
  }

  private resolve(header: string | undefined): Lookup {
    const host = normalizeHost(header);
    if (host === null) return { kind: 'bad-host' };
    const custom = this.hosts.get(host);
    if (custom) return { kind: 'app', app: custom, host };
    if (host.endsWith(this.suffix)) {
      const name = host.slice(0, -this.suffix.length);
      const app = name.includes('.') ? undefined : this.apps.get(name);
      if (app) return { kind: 'app', app, host };
    }
    return { kind: 'unknown', host };
  }

  /**
   * The backend for the next request: among healthy backends not cooling down, not in
   * `exclude` and below the app's hard limit, the one with the fewest requests in flight, ties
   * going round-robin. When every healthy backend is cooling down, the cool-down is ignored (it
   * may have recovered; a refused idempotent request is retried elsewhere anyway); the hard
   * limit never is, and a cooling backend is no fallback while another that is not cooling is
   * merely at the limit (the request waits for that one rather than risk a refusal: a POST
   * is not retried). Undefined when none is left.
   */
  pick(app: AppState, now: number, exclude?: readonly BackendState[]): BackendState | undefined {
    const best = this.scan(app, now, exclude, app.hardLimit);
    if (best !== undefined) app.cursor = (this.scanned + 1) % app.backends.length;
    return best;
  }

  /**
   * No backend to pick only because each one that would do has the app's hard limit of
   * requests in flight: the request waits for one to finish, rather than answering 503.
   */
  full(app: AppState, now: number, exclude?: readonly BackendState[]): boolean {
    return (
      app.hardLimit !== null &&
      this.scan(app, now, exclude, app.hardLimit) === undefined &&
      this.scan(app, now, exclude, null) !== undefined
    );
  }

  /** Where the last `scan` found its backend in the app's list. */
  private scanned = -1;

  /** `pick`'s choice, leaving the cursor alone (its index in `scanned`). */
  private scan(
    app: AppState,
    now: number,
    exclude: readonly BackendState[] | undefined,
    limit: number | null,
  ): BackendState | undefined {
    const list = app.backends;
    const n = list.length;
    let best: BackendState | undefined;
    let bestIndex = -1;
    let fallback: BackendState | undefined;
    let fallbackIndex = -1;
    let atLimit = false;
    for (let i = 0; i < n; i++) {
      const index = (app.cursor + i) % n;
      const b = list[index] as BackendState;
      if (!b.healthy || (exclude !== undefined && exclude.includes(b))) continue;
      if (limit !== null && b.inflight >= limit) {
        if (b.downUntil <= now) atLimit = true;
        continue;
      }
      if (b.downUntil > now) {
        if (fallback === undefined || b.inflight < fallback.inflight) {
          fallback = b;
          fallbackIndex = index;
        }
      } else if (best === undefined || b.inflight < best.inflight) {
        best = b;
        bestIndex = index;
        // None can have fewer than none, and ties go to the first in scan order: with 1,000
        // backends a request at rest looks at one or two, not all of them.
        if (b.inflight === 0) break;
      }
    }
    if (best === undefined && !atLimit) {
      best = fallback;
      bestIndex = fallbackIndex;
    }
    this.scanned = bestIndex;
    return best;
  }

  /** Every app and backend with its state, for the admin endpoint. */
  describe(): Array<{
    app: string;
    hosts: readonly string[];
    backends: Array<{ id: string; address: string; healthy: boolean }>;
  }> {
    return [...this.apps.values()].map((app) => ({
      app: app.name,
      hosts: app.hosts,
      backends: app.backends.map((b) => ({ id: b.id, address: b.address, healthy: b.healthy })),
    }));
  }
}
