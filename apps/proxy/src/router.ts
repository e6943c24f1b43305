/**
 * One worker's HTTP and HTTPS servers: route each request by Host to a backend through
 * http-proxy. HTTPS (`listenTls`) picks each client hello's certificate by SNI
 * (certificates.ts) and otherwise serves exactly what HTTP serves.
 *
 * - Backends get keep-alive connections from one agent, the original Host, X-Forwarded-For
 *   (appended), -Proto (`https` or `http`, by the listener), -Host and -Port (set: the router
 *   is the edge; a client's own are never passed on) and X-Request-Id (the client's when it
 *   is a sane token, else a new UUID; echoed in the response).
 * - Plain HTTP `GET /.well-known/acme-challenge/TOKEN`, for any host, is answered before
 *   routing from the ACME challenges in Redis (`acmeChallenge`): 200 text/plain with the key
 *   authorization, else 404; a TOKEN that is not a token is never looked up. An app whose
 *   route says `https.redirect` answers its other plain requests 308 to https://; with
 *   `https.hstsMaxAge` its HTTPS responses carry Strict-Transport-Security.
 * - An app whose route says `maintenance` answers every request (websockets too; on HTTPS
 *   with its HSTS, on plain HTTP before any redirect; the ACME path above still answers)
 *   503 with Retry-After and a maintenance page, HTML or, to a client that does not accept
 *   HTML, plain text. Its backends are not asked.
 * - 400 for a Host that is not a host name, for more than one Host header and for an
 *   absolute-form target that cannot be routed; an absolute-form target is routed by its
 *   authority (RFC 9112 §3.2, §3.2.2). 404 for a host no app answers, 503 when the app
 *   has no healthy backend, 502 when the backend failed, 504 when it stayed silent for
 *   `backendTimeoutMs`. A request that is idempotent and has no body is retried on another
 *   backend (up to `maxAttempts` in all) when the failure came before any response; when
 *   every backend refused, it waits (`refusedWaitMs`) for the next route table and tries the
 *   app's backends in it.
 * - An app whose route says `sleeping` (scaled to zero, or waking) and that has no healthy
 *   backend has its requests held, up to `wake.maxHeld` per app, `wake.maxHeldTotal` in all
 *   and `wake.maxWaitMs` each (beyond: 503 with Retry-After). A worker asks for the wake
 *   (`askWake`) when it holds an app's first request, and again every `wake.askEveryMs` while
 *   any are held, since an ask may be lost (the primary joins the asks of every worker, and
 *   Redis those of every router). A request whose backend refused it because it stopped for
 *   a scale to zero is held too, once the table says the app sleeps. The held requests go on
 *   as soon as a table or a health change gives the app a backend; after a failed wake (the
 *   route's `wakeRetryAt`) they, and every request until then, answer 503 with Retry-After.
 *   Websocket upgrades are held the same way, in the same queue, and proxied once it wakes.
 * - An app whose route has a `hardLimit` (N) gets no more than N requests (open websockets
 *   included) at once on any backend from this worker (the limit is per router worker, as
 *   Fly's is per proxy); the backend with the fewest in flight is picked. When every healthy
 *   backend is at N, requests (and upgrades) wait in the app's queue, first come first
 *   served, up to `queue.maxQueued` per app, `queue.maxQueuedTotal` in all (apart from the
 *   wake's total: apps at their limit never crowd out another app's wake) and
 *   `queue.maxWaitMs` each, and go to the first backend that drops below N; beyond, 503 with
 *   Retry-After: 1. While they wait they count as in flight, the autoscale signal. A backend
 *   cooling down after a refusal is not used while another is merely at N. An app that goes
 *   to sleep while requests wait at its limit has its wake asked as for a held request.
 * - A request (or upgrade) that would wait while the router shuts down answers 503 at once.
 *   A waiting upgrade whose client half-closes leaves the queue; an upgrade the router
 *   answers itself is closed once the answer is written.
 * - A backend that refuses a connection is skipped for `cooldownMs` (passive health);
 *   `onRefused` tells the primary, whose active checks then settle it for every worker.
 * - Websocket upgrades are proxied too; an open websocket counts as in flight.
 * - `close(drainMs)` stops accepting, lets in-flight requests finish (answering them with
 *   Connection: close), then closes whatever is left.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  type ClientRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
} from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import httpProxy from 'http-proxy';
import type { ListenAddress } from '@paas/config';
import { WAKE_ASK_TTL_MS } from '@paas/platform/routes';
import { ACME_CHALLENGE_PATH, isAcmeToken } from '@paas/platform/certs';
import type { KeyPair } from '@paas/platform/tls';
import { Certificates, MIN_TLS_VERSION } from './certificates';
import type { AccessLog } from './access-log';
import type { ToWorker } from './messages';
import { acceptsHtml, maintenanceBody, rawResponse, pageBody } from './pages';
import { type AppState, type BackendState, type RequestTarget, Routing, requestTarget } from './routing';
import { type AppCounters, Counters } from './stats';

export interface RouterOptions {
  readonly domain: string;
  readonly backendTimeoutMs: number;
  readonly cooldownMs: number;
  /** Null: no access log. */
  readonly accessLog: AccessLog | null;
  /** Attempts per idempotent request, the first included (default 3). */
  readonly maxAttempts?: number;
  /** A backend refused a connection. */
  readonly onRefused?: (address: string) => void;
  /**
   * How long an idempotent request whose backends all refused waits for the next route table
   * before it is answered 502 (default REFUSED_WAIT_MS; 0: not at all).
   */
  readonly refusedWaitMs?: number;
  /** Operational messages (stderr by default). */
  readonly warn?: (message: string) => void;
  /** HTTPS: the operator's default pair (null: none). Absent: no HTTPS server. */
  readonly tls?: { readonly defaultPair: KeyPair | null };
  /** The key authorization of an ACME HTTP-01 token, null when there is none; throws when it cannot tell. */
  readonly acmeChallenge?: (token: string) => Promise<string | null>;
  /** Asks for a wake of a sleeping app (the primary's WakeRequester joins repeated asks). */
  readonly askWake?: (app: string) => void;
  /** The first request held for a wake got the first byte of its answer `ms` after it came. */
  readonly onWokeFirstByte?: (app: string, ms: number) => void;
  /**
   * Requests held per sleeping app, in all (every app), how long each may wait, and how often
   * the wake is asked again while any are held (defaults: WAKE_QUEUE).
   */
  readonly wake?: {
    readonly maxHeld: number;
    readonly maxWaitMs: number;
    readonly maxHeldTotal?: number;
    readonly askEveryMs?: number;
  };
  /**
   * Requests queued per app whose backends are all at its hard limit, in all (every app; apart
   * from `wake.maxHeldTotal`), and how long each may wait for one below it (defaults: LIMIT_QUEUE).
   */
  readonly queue?: { readonly maxQueued: number; readonly maxWaitMs: number; readonly maxQueuedTotal?: number };
}

/** How many requests a worker holds per sleeping app and in all, for how long, and how often it asks again, by default. */
// asked again once an ask's key has expired (WAKE_ASK_TTL_MS): a lost ask is made again, and a
// wake under way (the leader deletes the ask when it takes it) is not asked for twice
export const WAKE_QUEUE = { maxHeld: 100, maxWaitMs: 30_000, maxHeldTotal: 1000, askEveryMs: WAKE_ASK_TTL_MS } as const;

/** How many requests a worker queues per app at its hard limit, in all, and for how long, by default. */
export const LIMIT_QUEUE = { maxQueued: 100, maxWaitMs: 10_000, maxQueuedTotal: 1000 } as const;

/** What a waiting upgrade's client may send before its 101 (it should send nothing); beyond, it is no longer read. */
const HELD_UPGRADE_BYTES = 64 * 1024;

/** Why a request waits: its app wakes, or every backend has the app's hard limit in flight. */
type HoldReason = 'wake' | 'limit';

/** A request (or websocket upgrade) waiting for a backend of its app. */
interface Held {
  readonly app: string;
  /** The host it was routed by (for a 404 when the app goes meanwhile). */
  readonly host: string;
  readonly reason: HoldReason;
  readonly x: Exchange;
  /** performance.now() when it was held. */
  readonly at: number;
  timer: NodeJS.Timeout | undefined;
  /** Sends it on to `backend`. */
  readonly go: (backend: BackendState) => void;
  /** Answers it with the router's own page, and Retry-After when given. */
  readonly refuse: (status: number, detail: string, retryAfter?: string) => void;
  /** Answers it with the maintenance page. */
  readonly maintenance: (app: AppState) => void;
}

/** One app's waiting requests, in the order they came, and how many wait for each reason. */
class HeldQueue {
  readonly items = new Set<Held>();
  wake = 0;
  limit = 0;
  /** A request held for this wake times its first byte already (an upgrade has none). */
  timed = false;
}

/**
 * An instance leaves the route table before it stops: the agent drains it (PAAS_DRAIN_MS)
 * once told, while the table reaches every router. A router that learns later than the
 * instance stops (a loaded machine, a Redis reconnect) finds its only backend refusing: the
 * request then waits this long for the table that has its successor, instead of failing.
 */
export const REFUSED_WAIT_MS = 2000;

/** Connection failures that say the backend is not there (as opposed to failing mid-request). */
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EADDRNOTAVAIL']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const REQUEST_ID = /^[A-Za-z0-9+/=._:@-]{1,200}$/;
const EXCHANGE = Symbol('paas.exchange');
const PATH_MAX = 2048;
/** Retry-After of a maintenance answer: a window is minutes, not the seconds of a deploy. */
export const MAINTENANCE_RETRY_AFTER_S = 600;

/** One client request through its attempts. */
class Exchange {
  app: AppState | undefined;
  counters: AppCounters | undefined;
  /** The backend of the current attempt, while it holds one of its in-flight slots. */
  backend: BackendState | undefined;
  /** The backend that answered (or was tried last), for the log. */
  lastBackend: BackendState | undefined;
  target: { host: string; port: number } | undefined;
  tried: BackendState[] | undefined;
  attempts = 0;
  status = 0;
  bytes = 0;
  responded = false;
  timedOut = false;
  error: string | undefined;
  proxyReq: ClientRequest | undefined;
  proxyRes: IncomingMessage | undefined;
  headers: Record<string, string> | undefined;
  finished = false;
  retriedSame = false;
  /** It waited for a newer route table once already (every backend refused). */
  waitedForTable = false;
  /** The first request held for its app's wake: when it was held (performance.now()), until its first byte. */
  wakeHeldAt: number | undefined;
  /** While it waits for a backend. */
  held: Held | undefined;

  constructor(
    readonly id: string,
    readonly start: number,
  ) {}
}

type Routed = IncomingMessage & { [EXCHANGE]?: Exchange };

const KEEP_ALIVE_HINT = Symbol('paas.keepAliveHint');
type HintedSocket = Duplex & { [KEEP_ALIVE_HINT]?: number };

/**
 * The agent for backends. A backend's `Keep-Alive: timeout=N` is hop-by-hop: it is taken off
 * the response (the client deals with our timeout, not the backend's) and kept on the socket,
 * so that an idle connection is dropped a second before the backend would drop it.
 */
class BackendAgent extends Agent {
  override keepSocketAlive(socket: HintedSocket): boolean {
    const keep = (super.keepSocketAlive(socket) as unknown as boolean | undefined) !== false;
    const hint = socket[KEEP_ALIVE_HINT];
    socket[KEEP_ALIVE_HINT] = undefined;
    if (!keep || hint === undefined) return keep;
    if (hint <= 0) return false;
    const socketTimeout = (socket as Duplex & { timeout?: number }).timeout ?? 0;
    if (socketTimeout === 0 || hint < socketTimeout) (socket as Socket).setTimeout(hint);
    return true;
  }
}

function remoteAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? 'error';
}

function encrypted(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true;
}

export class Router {
  readonly routing: Routing;
  readonly server: Server;
  /** The HTTPS server, when the router serves HTTPS. */
  readonly tlsServer: HttpsServer | null = null;
  readonly certificates: Certificates | null = null;
  /** The HTTPS port once listening (for redirects); null while there is none. */
  private tlsPort: number | null = null;
  readonly counters = new Counters();
  private readonly proxy: httpProxy;
  private readonly agent: Agent;
  /** For retries: a new connection each time. */
  private readonly fresh = new Agent({ keepAlive: false, noDelay: true });
  private readonly maxAttempts: number;
  private readonly refusedWaitMs: number;
  /** Requests waiting for the next route table, woken when it comes. */
  private readonly awaitingTable = new Set<() => void>();
  /**
   * Requests waiting for a backend (a wake, or one below the hard limit), by app name: one wake
   * asked per app while any are held for it.
   */
  private readonly held = new Map<string, HeldQueue>();
  /** Requests waiting, all apps together, for each reason (each has its own bound). */
  private readonly heldTotal: Record<HoldReason, number> = { wake: 0, limit: 0 };
  /** Apps whose queue is looked at once this tick is over (a backend got a slot back). */
  private readonly draining = new Set<string>();
  /** While an app has requests held, the timer that asks for its wake again (an ask may be lost). */
  private readonly reasking = new Map<string, NodeJS.Timeout>();
  private readonly warn: (message: string) => void;
  private inflight = 0;
  private readonly upgraded = new Set<Socket>();
  private closing = false;
  private drained: (() => void) | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: RouterOptions) {
    this.routing = new Routing(options.domain);
    this.maxAttempts = options.maxAttempts ?? 3;
    this.refusedWaitMs = options.refusedWaitMs ?? REFUSED_WAIT_MS;
    this.warn = options.warn ?? ((message) => console.error(`proxy: ${message}`));
    // Idle connections to backends are kept for reuse; Node's agent closes one a second
    // before the backend's announced Keep-Alive timeout, and after 30 s idle otherwise.
    // No Nagle: a request written in pieces must not wait for the backend's delayed ACK.
    this.agent = new BackendAgent({
      keepAlive: true,
      maxFreeSockets: 1024,
      timeout: 30_000,
      scheduling: 'lifo',
      noDelay: true,
    });
    this.proxy = httpProxy.createProxyServer({ agent: this.agent, ws: true, xfwd: false, changeOrigin: false });
    this.proxy.on('error', (err: Error) => this.warn(`http-proxy: ${err.message}`));
    this.proxy.on('proxyReq', (proxyReq, req) => this.onProxyReq(proxyReq, req as Routed));
    this.proxy.on('proxyReqWs', (proxyReq, req) => this.onProxyReqWs(proxyReq, req as Routed));
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.onProxyRes(proxyRes, req as Routed, res));
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.serveOn(this.server);
    if (options.tls) {
      const certificates = new Certificates(this.routing, options.tls.defaultPair, this.warn);
      const pair = options.tls.defaultPair;
      this.certificates = certificates;
      this.tlsServer = createHttpsServer(
        {
          ...(pair ? { cert: pair.cert, key: pair.key } : {}),
          minVersion: MIN_TLS_VERSION,
          ALPNProtocols: ['http/1.1'],
          SNICallback: (servername, done) => {
            const context = certificates.select(servername);
            if (context) done(null, context);
            else done(new Error(`no certificate for ${servername}`));
          },
        },
        (req, res) => this.onRequest(req, res),
      );
      this.serveOn(this.tlsServer);
      // A failed handshake (no certificate for the name, a scanner) is the client's problem.
      this.tlsServer.on('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
    }
  }

  private serveOn(server: Server | HttpsServer): void {
    // Clients may keep idle connections open longer than Node's default 5 s (nginx: 75 s).
    server.keepAliveTimeout = 65_000;
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
  }

  /** Applies a message from the primary. */
  handle(message: ToWorker): void {
    if (message.type === 'routes') {
      // Refused hosts are the primary's to report (once, not once per worker).
      this.routing.setRoutes(message.routes, message.version, message.down);
      for (const wake of [...this.awaitingTable]) wake();
      this.releaseHeld();
    } else if (message.type === 'health') {
      this.routing.setHealth(message.address, message.healthy);
      // to healthy: the held go on; to unhealthy: those with nothing left to wait for answer now
      this.releaseHeld();
    } else if (message.type === 'certs') {
      this.certificates?.setCerts(message.certs);
    }
  }

  listen(address: ListenAddress): Promise<AddressInfo> {
    return listenOn(this.server, address, this.warn);
  }

  /** Listens for HTTPS (the router must have been made with `tls`). */
  async listenTls(address: ListenAddress): Promise<AddressInfo> {
    if (!this.tlsServer) throw new Error('this router serves no HTTPS');
    const info = await listenOn(this.tlsServer, address, this.warn);
    this.tlsPort = info.port;
    return info;
  }

  /** Requests being answered now, websockets included. */
  get active(): number {
    return this.inflight + this.upgraded.size;
  }

  // ---- plain requests ----

  private onRequest(req: Routed, res: ServerResponse): void {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const x = new Exchange(id, performance.now());
    req[EXCHANGE] = x;
    this.inflight++;
    res.setHeader('x-request-id', id);
    res.once('close', () => this.onResponseClosed(req, res, x));

    const secure = encrypted(req);
    if (!secure && this.options.acmeChallenge && (req.url ?? '').startsWith(ACME_CHALLENGE_PATH)) {
      this.answerChallenge(req, res, x);
      return;
    }
    const target = this.target(req);
    if (target.kind === 'bad') {
      this.page(res, x, 400, target.reason);
      return;
    }
    const found = this.routing.lookup(target.host);
    if (found.kind === 'bad-host') {
      this.page(res, x, 400, 'The Host header is missing or is not a host name.');
      return;
    }
    if (found.kind === 'unknown') {
      this.page(res, x, 404, `No app answers at ${found.host}.`);
      return;
    }
    const app = found.app;
    x.app = app;
    x.counters = this.counters.app(app.name);
    x.counters.inflight++;
    x.counters.lastRequestAt = Date.now();
    if (secure && app.hsts !== null) res.setHeader('strict-transport-security', app.hsts);
    if (app.maintenance) {
      this.maintenance(req, res, x, app);
      return;
    }
    if (!secure && app.https?.redirect && this.tlsPort !== null) {
      this.redirect(res, x, found.host);
      return;
    }
    // first come, first served: behind those that wait already
    const waiting = this.held.get(app.name);
    const backend = waiting ? undefined : this.routing.pick(app, Date.now());
    if (!backend) {
      if (app.sleeping) return this.holdRequest(req, res, x, app, found.host, 'wake');
      if (waiting || this.routing.full(app, Date.now())) {
        this.holdRequest(req, res, x, app, found.host, 'limit');
        if (waiting) this.drainSoon(app.name);
        return;
      }
      res.setHeader('retry-after', '5');
      this.page(res, x, 503, `${app.name} has no instance running that passes its health check.`);
      return;
    }
    this.forward(req, res, x, backend);
  }

  // ---- sleeping apps and the hard limit: requests that wait for a backend ----

  private holdRequest(
    req: Routed,
    res: ServerResponse,
    x: Exchange,
    app: AppState,
    host: string,
    reason: HoldReason,
  ): void {
    this.hold(x, app, host, reason, {
      go: (backend) => this.forward(req, res, x, backend),
      refuse: (status, detail, retryAfter) => {
        if (retryAfter !== undefined) res.setHeader('retry-after', retryAfter);
        this.page(res, x, status, detail);
      },
      maintenance: (current) => this.maintenance(req, res, x, current),
    });
    // the first of a wake: its first byte is the wake's last stage (the app's log says it)
    const queue = this.held.get(app.name);
    if (reason === 'wake' && x.held && queue && !queue.timed) {
      queue.timed = true;
      x.wakeHeldAt = x.held.at;
    }
  }

  /**
   * Holds a request until a backend of its app can take it: its app wakes (`wake`), or one of
   * its backends drops below the hard limit (`limit`); 503 beyond the queue or the wait.
   */
  private hold(
    x: Exchange,
    app: AppState,
    host: string,
    reason: HoldReason,
    how: Pick<Held, 'go' | 'refuse' | 'maintenance'>,
  ): void {
    const name = app.name;
    const wake = this.options.wake ?? WAKE_QUEUE;
    const limits = this.options.queue ?? LIMIT_QUEUE;
    const maxHeldTotal = wake.maxHeldTotal ?? WAKE_QUEUE.maxHeldTotal;
    const maxQueuedTotal = limits.maxQueuedTotal ?? LIMIT_QUEUE.maxQueuedTotal;
    let queue = this.held.get(name);
    const shed = (detail: string): void => {
      if (reason === 'limit' && x.counters) x.counters.limitShed++;
      how.refuse(503, detail, reason === 'wake' ? '5' : '1');
    };
    // nothing would send it on: close() has answered every request waiting already
    if (this.closing) return how.refuse(503, 'The router is shutting down.', '1');
    if (reason === 'wake') {
      const failed = this.wakeFailure(app);
      if (failed) return how.refuse(503, failed.detail, failed.retryAfter);
      // asked before the queue is found full: even a worker that holds nothing wakes the app
      if (!this.reasking.has(name)) this.options.askWake?.(name);
      if ((queue?.wake ?? 0) >= wake.maxHeld)
        return shed(`${name} is waking up and ${wake.maxHeld} requests already wait for it.`);
    } else if ((queue?.limit ?? 0) >= limits.maxQueued) {
      return shed(
        `${name} has ${app.hardLimit} requests in flight on each instance, its hard limit, and ${limits.maxQueued} more already wait.`,
      );
    }
    if (reason === 'wake' && this.heldTotal.wake >= maxHeldTotal) {
      return shed(`${name} is waking up and this router holds ${maxHeldTotal} requests already.`);
    }
    if (reason === 'limit' && this.heldTotal.limit >= maxQueuedTotal) {
      return shed(`${name} is at its hard limit and this router queues ${maxQueuedTotal} requests already.`);
    }
    if (!queue) {
      queue = new HeldQueue();
      this.held.set(name, queue);
    }
    if (reason === 'wake') this.askAgainWhileHeld(name);
    // (one that came while a slot was just given back only queues behind the others for a tick;
    // a retry refused by a backend below the limit waits for those that are not)
    if (reason === 'limit' && x.counters && this.routing.full(app, Date.now(), x.tried)) x.counters.limitQueued++;
    const maxWaitMs = reason === 'wake' ? wake.maxWaitMs : limits.maxWaitMs;
    const held: Held = { app: name, host, reason, x, at: performance.now(), timer: undefined, ...how };
    held.timer = setTimeout(() => {
      if (!this.unhold(held)) return;
      // a request held for a wake may find the woken app at its limit, one queued at the limit
      // its app asleep
      const current = this.routing.app(name);
      if (current?.sleeping) {
        how.refuse(503, `${name} did not wake within ${maxWaitMs} ms.`, '5');
      } else if (reason === 'limit' || (current && this.routing.full(current, Date.now()))) {
        if (x.counters) x.counters.limitShed++;
        const limit = current?.hardLimit ?? app.hardLimit;
        how.refuse(503, `${name} stayed at its hard limit of ${limit} requests per instance for ${maxWaitMs} ms.`, '1');
      } else {
        how.refuse(503, `${name} did not wake within ${maxWaitMs} ms.`, '5');
      }
    }, maxWaitMs);
    queue.items.add(held);
    if (reason === 'wake') queue.wake++;
    else queue.limit++;
    this.heldTotal[reason]++;
    x.held = held;
  }

  /**
   * Asks for the wake of `name` again every `wake.askEveryMs` (an ask may be lost) while it
   * sleeps and any request waits for it, from the first ask on.
   */
  private askAgainWhileHeld(name: string): void {
    if (this.reasking.has(name)) return;
    const every = this.options.wake?.askEveryMs ?? WAKE_QUEUE.askEveryMs;
    const again = setInterval(() => {
      const current = this.routing.app(name);
      if (current?.sleeping && (current.wakeRetryAt === null || current.wakeRetryAt <= Date.now()))
        this.options.askWake?.(name);
    }, every);
    this.reasking.set(name, again);
  }

  /** Takes a request out of its app's queue; false when it was not there (answered already). */
  private unhold(held: Held): boolean {
    const queue = this.held.get(held.app);
    if (!queue?.items.delete(held)) return false;
    clearTimeout(held.timer);
    held.x.held = undefined;
    this.heldTotal[held.reason]--;
    if (held.reason === 'wake') queue.wake--;
    else queue.limit--;
    if (queue.wake === 0) queue.timed = false;
    // requests queued at the limit wait for a wake too when their app went to sleep
    if (queue.items.size === 0) {
      this.held.delete(held.app);
      clearInterval(this.reasking.get(held.app));
      this.reasking.delete(held.app);
    }
    return true;
  }

  /** After a failed wake: the answer until the next may be asked, with the time left; null otherwise. */
  private wakeFailure(app: AppState): { detail: string; retryAfter: string } | null {
    const left = app.wakeRetryAt === null ? 0 : app.wakeRetryAt - Date.now();
    if (left <= 0) return null;
    const seconds = Math.ceil(left / 1000);
    return {
      detail: `${app.name} failed to wake (its log says why); it is tried again in ${seconds} s.`,
      retryAfter: String(seconds),
    };
  }

  /** The table or a backend's health changed: held requests go on to backends that now serve. */
  private releaseHeld(): void {
    for (const name of [...this.held.keys()]) this.drain(name);
  }

  /** A backend of `name` got a slot back: its queue is looked at once the current tick is over. */
  private drainSoon(name: string): void {
    if (this.draining.has(name)) return;
    this.draining.add(name);
    // after the tick: a retry of the request that gave the slot back takes it first
    process.nextTick(() => {
      this.draining.delete(name);
      this.drain(name);
    });
  }

  /**
   * Sends an app's waiting requests on, first come first served, while it has a backend for
   * them; answers them when it never will (gone, in maintenance, a failed wake, no healthy
   * backend and not asleep). What is true of the first that stays is true of the rest, but
   * for a retry queued at the limit, which does not go back to the backends that failed it.
   */
  private drain(name: string): void {
    const queue = this.held.get(name);
    if (!queue) return;
    const app = this.routing.app(name);
    for (const held of [...queue.items]) {
      const x = held.x;
      if (!app) {
        this.unhold(held);
        held.refuse(404, `No app answers at ${held.host}.`);
        continue;
      }
      x.app = app;
      // (one held for a wake may have been refused by the instance that stopped: the woken
      // app's backends are new, and may have its address)
      const tried = held.reason === 'limit' ? x.tried : undefined;
      const backend = this.routing.pick(app, Date.now(), tried);
      if (backend) {
        this.unhold(held);
        if (held.reason === 'wake' && x.counters) this.counters.woke(x.counters, (performance.now() - held.at) / 1000);
        held.go(backend);
      } else if (app.maintenance) {
        this.unhold(held);
        held.maintenance(app);
      } else if (app.sleeping) {
        const failed = this.wakeFailure(app);
        if (!failed) {
          // it waits for the wake, asked already unless only requests at the limit waited
          if (!this.reasking.has(name)) {
            this.options.askWake?.(name);
            this.askAgainWhileHeld(name);
          }
          break;
        }
        this.unhold(held);
        held.refuse(503, failed.detail, failed.retryAfter);
      } else if (this.routing.full(app, Date.now(), tried)) {
        // it waits for a backend below the limit; a retry that cannot take the one free lets
        // those behind it have it
        if (tried?.length) continue;
        break;
      } else {
        this.unhold(held);
        held.refuse(503, `${app.name} has no instance running that passes its health check.`, '5');
      }
    }
  }

  /** `GET /.well-known/acme-challenge/TOKEN`: the key authorization from Redis, or 404. */
  private answerChallenge(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    const path = (req.url ?? '').split('?')[0] as string;
    const token = path.slice(ACME_CHALLENGE_PATH.length);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isAcmeToken(token)) {
      this.page(res, x, 404, 'No such ACME challenge.');
      return;
    }
    const lookup = this.options.acmeChallenge;
    if (!lookup) return;
    lookup(token).then(
      (answer) => {
        if (res.destroyed || res.headersSent) return;
        if (answer === null) {
          this.page(res, x, 404, 'No such ACME challenge.');
          return;
        }
        x.status = 200;
        x.bytes = req.method === 'HEAD' ? 0 : Buffer.byteLength(answer);
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(answer),
          'cache-control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : answer);
      },
      (err: Error) => {
        x.error = err.message;
        if (!res.destroyed) this.page(res, x, 503, 'The ACME challenge cannot be read now.');
      },
    );
  }

  /** The same URL over https (the HTTPS port named unless it is 443). */
  private httpsLocation(host: string, url: string): string {
    const port = this.tlsPort === 443 ? '' : `:${this.tlsPort}`;
    return `https://${host}${port}${url}`;
  }

  /** 308 to the same URL over https. */
  private redirect(res: ServerResponse, x: Exchange, host: string): void {
    const location = this.httpsLocation(host, res.req.url ?? '/');
    res.setHeader('location', location);
    this.page(res, x, 308, `This app is served over HTTPS: ${location}`);
  }

  /**
   * Where the request is addressed (see `requestTarget`). An absolute-form request goes on in
   * origin form, with the authority it was routed by as its Host, so that the app sees the
   * same host the router used.
   */
  private target(req: IncomingMessage): RequestTarget {
    const target = requestTarget(req.url ?? '', req.rawHeaders, req.httpVersion);
    if (target.kind === 'ok' && target.url !== undefined) {
      req.url = target.url;
      if (target.host !== undefined) req.headers.host = target.host;
    }
    return target;
  }

  private forwardHeaders(req: IncomingMessage, x: Exchange, upgrade: boolean): Record<string, string> {
    if (x.headers) return x.headers;
    const prior = req.headers['x-forwarded-for'];
    const remote = remoteAddress(req);
    const headers: Record<string, string> = {
      'x-request-id': x.id,
      'x-forwarded-for': typeof prior === 'string' && prior !== '' ? `${prior}, ${remote}` : remote,
      'x-forwarded-proto': encrypted(req) ? 'https' : 'http',
      'x-forwarded-host': req.headers.host ?? '',
      'x-forwarded-port': String(req.socket.localPort ?? ''),
    };
    // Hop by hop: the connection to the backend is ours to keep alive, whatever the client said.
    if (!upgrade) headers['connection'] = 'keep-alive';
    x.headers = headers;
    return headers;
  }

  private forward(req: Routed, res: ServerResponse, x: Exchange, backend: BackendState): void {
    x.attempts++;
    x.backend = backend;
    x.lastBackend = backend;
    x.proxyReq = undefined;
    backend.inflight++;
    const target = { host: backend.host, port: backend.port };
    x.target = target;
    // A retry takes a new connection: the pooled ones may all be dead, like the first one was.
    const options = {
      target,
      headers: this.forwardHeaders(req, x, false),
      agent: x.attempts > 1 ? this.fresh : this.agent,
    };
    this.proxy.web(req, res, options, (err, _req, _res, where) => this.onProxyError(err, req, res, x, where));
  }

  private onProxyReq(proxyReq: ClientRequest, req: Routed): void {
    const x = req[EXCHANGE];
    if (!x) return;
    x.proxyReq = proxyReq;
    proxyReq.setTimeout(this.options.backendTimeoutMs, () => {
      x.timedOut = true;
      proxyReq.destroy();
    });
  }

  private onProxyRes(proxyRes: IncomingMessage, req: Routed, res: ServerResponse): void {
    const x = req[EXCHANGE];
    if (!x) return;
    x.responded = true;
    x.proxyRes = proxyRes;
    if (x.wakeHeldAt !== undefined && x.app) {
      this.options.onWokeFirstByte?.(x.app.name, performance.now() - x.wakeHeldAt);
      x.wakeHeldAt = undefined;
    }
    // The router's policy, not the backend's, says how long browsers stick to HTTPS.
    if (x.app?.hsts != null && encrypted(req)) proxyRes.headers['strict-transport-security'] = x.app.hsts;
    // The client's connection follows the client's wish (and our shutdown), not the backend's.
    if (req.httpVersion === '1.1') {
      const connection = req.headers.connection;
      const close = this.closing || (connection !== undefined && /(^|,)\s*close\s*($|,)/i.test(connection));
      proxyRes.headers.connection = close ? 'close' : 'keep-alive';
    }
    const hint = proxyRes.headers['keep-alive'];
    if (hint !== undefined) {
      const seconds = /^\s*timeout=(\d+)/i.exec(String(hint))?.[1];
      if (seconds !== undefined) (proxyRes.socket as HintedSocket)[KEEP_ALIVE_HINT] = Number(seconds) * 1000 - 1000;
      delete proxyRes.headers['keep-alive'];
    }
    const length = proxyRes.headers['content-length'];
    if (req.method === 'HEAD' || proxyRes.statusCode === 204 || proxyRes.statusCode === 304) {
      x.bytes = 0;
    } else if (length !== undefined && /^\d+$/.test(length)) {
      x.bytes = Number(length);
    } else {
      proxyRes.on('data', (chunk: Buffer) => (x.bytes += chunk.length));
    }
    proxyRes.once('end', () => this.release(x));
    proxyRes.once('close', () => {
      // The backend went away mid-body: the client must see the response cut, not hang.
      if (!proxyRes.complete && !res.writableEnded) {
        x.error ??= 'backend closed mid-response';
        res.destroy();
      }
    });
  }

  private onProxyError(err: Error, req: Routed, res: ServerResponse, x: Exchange, target: unknown): void {
    if (target !== x.target) return; // a late error from an earlier attempt
    const backend = x.backend;
    const code = x.timedOut ? 'timeout' : errorCode(err);
    const reused = x.proxyReq?.reusedSocket === true;
    x.error = code;
    this.release(x);
    if (x.responded || res.headersSent) {
      res.destroy();
      return;
    }
    if (res.destroyed || x.finished) return;
    const refused = REFUSED.has(code);
    if (refused && backend) {
      this.routing.coolDown(backend, Date.now() + this.options.cooldownMs);
      this.options.onRefused?.(backend.address);
    }
    const method = req.method ?? '';
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (!x.timedOut && IDEMPOTENT.has(method) && !hasBody && x.attempts < this.maxAttempts && x.app) {
      if (backend) (x.tried ??= []).push(backend);
      let next = this.routing.pick(x.app, Date.now(), x.tried);
      // A reset on a kept-alive connection may only mean the backend had just closed it: with
      // no other backend left, the same one gets one more try, on a new connection.
      if (!next && backend && reused && !refused && !x.retriedSame) {
        x.retriedSame = true;
        next = backend;
      }
      if (next) {
        this.forward(req, res, x, next);
        return;
      }
      const current = this.routing.app(x.app.name);
      if (current && this.routing.full(current, Date.now(), x.tried)) {
        // the others are at the hard limit: it waits for one of them
        x.app = current;
        this.holdRequest(req, res, x, current, req.headers.host ?? current.name, 'limit');
        return;
      }
      if (refused && !x.waitedForTable && this.refusedWaitMs > 0) {
        x.waitedForTable = true;
        // the instance may have stopped for a scale to zero: then the request waits for the wake
        if (this.holdIfAsleep(req, res, x)) return;
        this.afterNextTable(() => {
          if (res.destroyed || x.finished) return;
          const app = x.app && this.routing.app(x.app.name);
          const again = app && this.routing.pick(app, Date.now(), x.tried);
          if (app && again) {
            x.app = app;
            this.forward(req, res, x, again);
          } else if (!this.holdIfAsleep(req, res, x))
            this.page(res, x, 502, `${x.app?.name ?? 'The app'} could not be reached or failed to answer (${code}).`);
        });
        return;
      }
    }
    if (x.timedOut) {
      this.page(res, x, 504, `${x.app?.name ?? 'The app'} did not answer within ${this.options.backendTimeoutMs} ms.`);
    } else {
      this.page(res, x, 502, `${x.app?.name ?? 'The app'} could not be reached or failed to answer (${code}).`);
    }
  }

  /** Holds a refused request when the table now says its app sleeps with no backend; false otherwise. */
  private holdIfAsleep(req: Routed, res: ServerResponse, x: Exchange): boolean {
    const app = x.app && this.routing.app(x.app.name);
    if (!app?.sleeping || this.routing.pick(app, Date.now(), x.tried)) return false;
    x.app = app;
    this.holdRequest(req, res, x, app, req.headers.host ?? app.name, 'wake');
    return true;
  }

  /** Runs `then` once the next route table came, or after refusedWaitMs without one. */
  private afterNextTable(then: () => void): void {
    const version = this.routing.version;
    const done = (): void => {
      clearTimeout(timer);
      this.awaitingTable.delete(wake);
      then();
    };
    const wake = (): void => {
      if (this.routing.version !== version) done();
    };
    const timer = setTimeout(done, this.refusedWaitMs);
    this.awaitingTable.add(wake);
  }

  /** Gives back the current attempt's in-flight slot on its backend (to a request waiting for one). */
  private release(x: Exchange): void {
    if (x.backend) {
      x.backend.inflight--;
      x.backend = undefined;
      if (x.app && this.held.has(x.app.name)) this.drainSoon(x.app.name);
    }
  }

  private page(res: ServerResponse, x: Exchange, status: number, detail: string): void {
    this.answer(res, x, status, 'text/html; charset=utf-8', pageBody(status, detail, x.id));
  }

  /** 503 and the maintenance page, in what the client accepts (the body varies with Accept). */
  private maintenance(req: IncomingMessage, res: ServerResponse, x: Exchange, app: AppState): void {
    const html = acceptsHtml(req.headers.accept);
    res.setHeader('retry-after', String(MAINTENANCE_RETRY_AFTER_S));
    res.setHeader('vary', 'Accept');
    const type = html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8';
    this.answer(res, x, 503, type, maintenanceBody(app.name, x.id, html));
  }

  /** The router's own answer. */
  private answer(res: ServerResponse, x: Exchange, status: number, contentType: string, body: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    x.status = status;
    x.bytes = res.req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    res.statusCode = status;
    res.setHeader('content-type', contentType);
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', Buffer.byteLength(body));
    // After a request it could not make sense of, the router trusts nothing more on that connection.
    if (this.closing || status === 400) res.setHeader('connection', 'close');
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private onResponseClosed(req: Routed, res: ServerResponse, x: Exchange): void {
    x.finished = true;
    // a client that leaves is no longer held (its answer is counted as any other's)
    if (x.held) this.unhold(x.held);
    this.release(x);
    if (!x.responded && x.proxyReq && !x.proxyReq.destroyed) x.proxyReq.destroy(); // the client left first
    if (x.proxyRes && !x.proxyRes.complete) x.proxyRes.destroy();
    const status = res.headersSent ? res.statusCode : 499; // 499: the client closed before any answer
    if (!res.writableFinished && !x.error) x.error = 'client closed';
    if (x.counters) {
      x.counters.inflight--;
      this.counters.answered(x.counters, status, x.bytes, (performance.now() - x.start) / 1000);
    } else {
      this.counters.unrouted++;
    }
    this.log(req, x, status);
    this.inflight--;
    this.afterExchange();
  }

  private log(req: IncomingMessage, x: Exchange, status: number): void {
    const log = this.options.accessLog;
    if (!log) return;
    const url = req.url ?? '';
    log.log({
      time: new Date().toISOString(),
      requestId: x.id,
      app: x.app?.name ?? null,
      host: (req.headers.host ?? '').slice(0, 300),
      method: req.method ?? '',
      path: url.length > PATH_MAX ? `${url.slice(0, PATH_MAX)}...` : url,
      status,
      backend: x.lastBackend?.address ?? null,
      durationMs: Math.round((performance.now() - x.start) * 1000) / 1000,
      bytes: x.bytes,
      remote: remoteAddress(req),
      ...(x.attempts > 1 ? { attempts: x.attempts } : {}),
      ...(x.error ? { error: x.error } : {}),
    });
  }

  // ---- websockets ----

  private onUpgrade(req: Routed, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined); // a client that vanishes is not our error
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const x = new Exchange(id, performance.now());
    req[EXCHANGE] = x;
    this.upgraded.add(socket);
    socket.once('close', () => this.onUpgradeClosed(req, socket, x));

    const reject = (status: number, detail: string, headers?: Record<string, string>): void => {
      x.status = status;
      // closed once written: a client that never closes its side would otherwise stay counted
      // in flight for ever (and keep an autoscaled app awake)
      socket.write(rawResponse(status, detail, id, headers));
      socket.destroySoon();
    };
    if (this.closing) return reject(503, 'The router is shutting down.');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return reject(400, 'Only websocket upgrades are proxied.');
    }
    const addressed = this.target(req);
    if (addressed.kind === 'bad') return reject(400, addressed.reason);
    const found = this.routing.lookup(addressed.host);
    if (found.kind === 'bad-host') return reject(400, 'The Host header is missing or is not a host name.');
    if (found.kind === 'unknown') return reject(404, `No app answers at ${found.host}.`);
    x.app = found.app;
    x.counters = this.counters.app(found.app.name);
    x.counters.inflight++;
    x.counters.lastRequestAt = Date.now();
    if (found.app.maintenance) {
      return reject(503, `${found.app.name} is down for maintenance. Please try again later.`, {
        'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
      });
    }
    // An app served over HTTPS only takes its websockets there too (wss://; a browser does not
    // follow the redirect, but no plain-text socket is opened to the app).
    if (!encrypted(req) && found.app.https?.redirect && this.tlsPort !== null) {
      const location = this.httpsLocation(found.host, req.url ?? '/');
      return reject(308, `This app is served over HTTPS: ${location}`, { location });
    }
    // as a request: behind those that wait already, held for a wake or below the hard limit
    const app = found.app;
    const waiting = this.held.get(app.name);
    const backend = waiting ? undefined : this.routing.pick(app, Date.now());
    if (!backend) {
      const limited = !app.sleeping && (waiting !== undefined || this.routing.full(app, Date.now()));
      if (app.sleeping || limited) {
        // While it waits the socket is read, so that a client that gives up (FIN, or a reset)
        // leaves the queue at once; what it sends meanwhile goes on after the request.
        let early = head;
        const read = (chunk: Buffer): void => {
          early = Buffer.concat([early, chunk]);
          if (early.length > HELD_UPGRADE_BYTES) socket.pause(); // no more: the wait bounds it
        };
        const gone = (): void => void socket.destroy();
        const stopReading = (): void => {
          socket.pause();
          socket.off('data', read);
          socket.off('end', gone);
        };
        socket.on('data', read);
        socket.once('end', gone);
        this.hold(x, app, found.host, limited ? 'limit' : 'wake', {
          go: (next) => {
            stopReading();
            if (!socket.destroyed) this.upgradeTo(req, socket, early, x, next);
          },
          refuse: (status, detail, retryAfter) =>
            reject(status, detail, retryAfter === undefined ? undefined : { 'retry-after': retryAfter }),
          maintenance: (current) =>
            reject(503, `${current.name} is down for maintenance. Please try again later.`, {
              'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
            }),
        });
        if (waiting) this.drainSoon(app.name);
        return;
      }
      return reject(503, `${app.name} has no instance running that passes its health check.`);
    }
    this.upgradeTo(req, socket, head, x, backend);
  }

  /** Proxies an upgrade to `backend`; the websocket holds one of its in-flight slots while open. */
  private upgradeTo(req: Routed, socket: Socket, head: Buffer, x: Exchange, backend: BackendState): void {
    x.attempts = 1;
    x.backend = backend;
    x.lastBackend = backend;
    backend.inflight++;
    const target = { host: backend.host, port: backend.port };
    x.target = target;
    this.proxy.ws(req, socket, head, { target, headers: this.forwardHeaders(req, x, true) }, (err: Error) => {
      if (x.status === 101) return; // after the upgrade: http-proxy closes both sides
      const code = x.timedOut ? 'timeout' : errorCode(err);
      x.error = code;
      if (REFUSED.has(code)) {
        this.routing.coolDown(backend, Date.now() + this.options.cooldownMs);
        this.options.onRefused?.(backend.address);
      }
      if (x.status === 0 && socket.writable) {
        x.status = x.timedOut ? 504 : 502;
        socket.write(rawResponse(x.status, `${x.app?.name ?? 'The app'} could not be reached (${code}).`, x.id));
        socket.destroySoon(); // as the router's other answers to an upgrade
      }
    });
  }

  private onProxyReqWs(proxyReq: ClientRequest, req: Routed): void {
    const x = req[EXCHANGE];
    if (!x) return;
    x.proxyReq = proxyReq;
    proxyReq.setTimeout(this.options.backendTimeoutMs, () => {
      if (x.status !== 0) return;
      x.timedOut = true;
      proxyReq.destroy();
    });
    // Before http-proxy's own listener writes the 101 to the client from these headers.
    proxyReq.once('upgrade', (proxyRes: IncomingMessage) => {
      x.status = 101;
      if (x.app?.hsts != null && encrypted(req)) proxyRes.headers['strict-transport-security'] = x.app.hsts;
    });
    proxyReq.once('response', (response: IncomingMessage) => {
      x.status = response.statusCode ?? 502;
      x.responded = true;
    });
  }

  private onUpgradeClosed(req: Routed, socket: Socket, x: Exchange): void {
    this.upgraded.delete(socket);
    if (x.held) this.unhold(x.held);
    this.release(x);
    if (x.proxyReq && !x.proxyReq.destroyed && x.status !== 101) x.proxyReq.destroy();
    const status = x.status || 499;
    if (x.counters) {
      x.counters.inflight--;
      this.counters.answered(x.counters, status, 0, null);
    } else {
      this.counters.unrouted++;
    }
    this.log(req, x, status);
    this.afterExchange();
  }

  // ---- malformed requests ----

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const id = randomUUID();
    this.counters.unrouted++;
    socket.end(rawResponse(status, `The request could not be read (${err.code ?? err.message}).`, id));
    this.options.accessLog?.log({
      time: new Date().toISOString(),
      requestId: id,
      app: null,
      host: '',
      method: '',
      path: '',
      status,
      backend: null,
      durationMs: 0,
      bytes: 0,
      remote: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      error: err.code ?? err.message,
    });
  }

  // ---- shutdown ----

  private afterExchange(): void {
    if (!this.closing) return;
    this.server.closeIdleConnections();
    this.tlsServer?.closeIdleConnections();
    if (this.active === 0) this.drained?.();
  }

  /**
   * Stops accepting, lets in-flight requests (and open websockets) finish for up to
   * `drainMs`, then closes every connection left. Resolves once everything is closed.
   */
  close(drainMs: number): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    // held requests have no backend to finish on: they are told to come back
    for (const queue of [...this.held.values()]) {
      for (const held of [...queue.items]) {
        this.unhold(held);
        held.refuse(503, 'The router is shutting down.', '1');
      }
    }
    this.closed = (async () => {
      const tls = this.tlsServer;
      const stopped = Promise.all([
        new Promise<void>((resolve) => this.server.close(() => resolve())),
        tls?.listening ? new Promise<void>((resolve) => tls.close(() => resolve())) : undefined,
      ]);
      this.server.closeIdleConnections();
      tls?.closeIdleConnections();
      if (this.active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          this.drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.server.closeAllConnections();
      tls?.closeAllConnections();
      for (const socket of this.upgraded) socket.destroy();
      await stopped;
      this.agent.destroy();
      this.fresh.destroy();
      this.proxy.close();
      this.options.accessLog?.flush();
    })();
    return this.closed;
  }
}

function listenOn(
  server: Server | HttpsServer,
  address: ListenAddress,
  warn: (message: string) => void,
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      // Later errors (e.g. EMFILE while accepting) are the server's to survive, not to die of.
      server.on('error', (err: Error) => warn(`server: ${err.message}`));
      resolve(server.address() as AddressInfo);
    });
  });
}
