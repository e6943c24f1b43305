/**
 * The router's primary: one per router, whatever the number of workers. It follows the route
 * table and (with HTTPS on) the certificate table in Redis, opens the certificates' sealed
 * keys, runs the active health checks, hands all of it to the workers, reads ACME challenges
 * for them, sums their counters, publishes metrics to Redis and answers the admin address:
 *
 *   GET /_paas/metrics  {router, time, workers, routesVersion, apps: {APP: AppMetrics}, unrouted, backends}
 *   GET /_paas/health   {status: "ok", routesVersion, workers, workerVersions, certsVersion, workerCertsVersions, certificates}
 *   GET /metrics        the same counts in Prometheus text format (`paas_router_*`, docs/operations.md)
 *
 * `workerVersions` (`workerCertsVersions`) lists the route (certificate) table version each
 * worker says it serves by, so a caller can tell when a change has reached every worker.
 * With Redis gone, the tables last loaded keep being served.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '@paas/config';
import {
  type AppRoute,
  type RouteChange,
  type RouterMetrics,
  RouteWatcher,
  connectRedis,
  type RouterActivity,
  publishRouterMetrics,
  redactRedisUrl,
  removeRouterMetrics,
  removeActivity,
  reportActivity,
  reportFirstByte,
  requestWake,
} from '@paas/platform/routes';
import { CertWatcher, type TableCert, readAcmeChallenge } from '@paas/platform/certs';
import { type Sample, answerMetrics, histogramSamples, registerComputed } from '@paas/platform/metrics';
import { loadSealingKey } from '@paas/platform/tls';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { openCerts } from './certificates';
import type { ProxyConfig } from './config';
import { HealthChecker } from './health';
import type { OpenedCert, ToPrimary, ToWorker } from './messages';
import { Routing } from './routing';
import { type AppCounters, type CounterSnapshot, MetricsAggregator } from './stats';
import { WakeRequester } from './wake';

export type Broadcast = (message: ToWorker) => void;

const SAMPLE_MS = 1000;
/** An ACME challenge not read by then answers 503 (the ACME server retries). */
const ACME_READ_MS = 5000;

export class Controller {
  readonly health: HealthChecker;
  readonly metrics = new MetricsAggregator();
  /** Asks for wakes of sleeping apps, joining those of every worker. */
  readonly wakes: WakeRequester;
  /** The primary's own view of the table, for the admin endpoint. */
  readonly routing: Routing;
  private readonly reader: Redis;
  private readonly subscriber: Redis;
  private readonly watcher: RouteWatcher;
  private readonly certWatcher: CertWatcher | null = null;
  private routes: ReadonlyMap<string, AppRoute> = new Map();
  private certs: readonly OpenedCert[] = [];
  private latest: (RouterMetrics & { unrouted: number }) | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private admin: Server | undefined;
  private redisErrors = new Map<string, number>();
  /** App -> `LAST IN_FLIGHT` as last reported to Redis for scale to zero (wake.ts). */
  private readonly activity = new Map<string, string>();
  /** Worker id -> the table version it applied last. */
  private readonly applied = new Map<string, number>();
  /** Worker id -> the certificate table version it applied last. */
  private readonly appliedCerts = new Map<string, number>();
  routerId = '';
  workers = 0;
  /** What `GET /metrics` answers, computed from the workers' sums at each scrape. */
  readonly prometheus = new Registry();

  constructor(
    private readonly config: ProxyConfig,
    private readonly broadcast: Broadcast,
    private readonly log: (message: string) => void = (message) => console.error(`proxy: ${message}`),
  ) {
    this.routing = new Routing(config.domain);
    this.reader = this.connect('reader');
    this.wakes = new WakeRequester({ claim: (app) => requestWake(this.reader, app) }, this.log);
    this.subscriber = this.connect('subscriber');
    this.health = new HealthChecker({
      intervalMs: config.healthIntervalMs,
      idleIntervalMs: config.healthIdleIntervalMs,
      timeoutMs: config.healthTimeoutMs,
      fall: config.healthFall,
      rise: config.healthRise,
      domain: config.domain,
      onChange: (address, healthy, reason) => {
        this.log(`backend ${address} is ${healthy ? 'back up' : `down: ${reason}`}`);
        this.routing.setHealth(address, healthy);
        this.broadcast({ type: 'health', address, healthy });
      },
    });
    this.watcher = new RouteWatcher({
      reader: this.reader,
      subscriber: this.subscriber,
      resyncMs: config.resyncMs,
      onChange: (routes, change) => this.onRoutes(routes, change),
      onProblem: (message) => this.log(message),
    });
    if (config.tls) {
      this.certWatcher = new CertWatcher({
        reader: this.reader,
        subscriber: this.subscriber,
        resyncMs: config.resyncMs,
        onChange: (certs) => this.onCerts(certs),
        onProblem: (message) => this.log(message),
      });
    }
    this.registerMetrics();
  }

  private registerMetrics(): void {
    const registry = this.prometheus;
    const perApp = (pick: (app: string, c: AppCounters) => Sample[]) => (): Sample[] =>
      [...this.metrics.totals().apps].flatMap(([app, c]) => pick(app, c));
    registerComputed(registry, {
      name: 'paas_router_requests_total',
      help: 'Requests answered, by app and status class (1xx and websockets count as 2xx; 499: the client left first).',
      type: 'counter',
      samples: perApp((app, c) =>
        (['2xx', '3xx', '4xx', '5xx'] as const).map((code) => ({
          labels: { app, code_class: code },
          value: c[`s${code}`],
        })),
      ),
    });
    registerComputed(registry, {
      name: 'paas_router_response_bytes_total',
      help: 'Response body bytes sent to clients, by app.',
      type: 'counter',
      samples: perApp((app, c) => [{ labels: { app }, value: c.bytes }]),
    });
    registerComputed(registry, {
      name: 'paas_router_inflight',
      help: 'Requests being answered now (open websockets included), by app.',
      type: 'gauge',
      samples: perApp((app, c) => [{ labels: { app }, value: c.inflight }]),
    });
    registerComputed(registry, {
      name: 'paas_router_request_duration_seconds',
      help: 'Time from a request to its answer sent, by app (websockets not counted).',
      type: 'histogram',
      samples: perApp((app, c) =>
        histogramSamples('paas_router_request_duration_seconds', { app }, c.durations, c.durationSum),
      ),
    });
    registerComputed(registry, {
      name: 'paas_router_wakes_total',
      help: 'Wakes of sleeping apps this router asked for (asks joined to a wake under way not counted), by app.',
      type: 'counter',
      samples: () => [...this.wakes.asked].map(([app, value]) => ({ labels: { app }, value })),
    });
    registerComputed(registry, {
      name: 'paas_router_wake_duration_seconds',
      help: 'How long requests held for a sleeping app waited for it to wake, by app.',
      type: 'histogram',
      samples: perApp((app, c) =>
        c.wakeDurationSum > 0 || c.wakeDurations.some((n) => n > 0)
          ? histogramSamples('paas_router_wake_duration_seconds', { app }, c.wakeDurations, c.wakeDurationSum)
          : [],
      ),
    });
    registerComputed(registry, {
      name: 'paas_router_hard_limit_requests_total',
      help: 'Requests that met the hard limit of every backend of their app, by app: queued (waited for one), or shed (answered 503: the queue full, or the wait too long).',
      type: 'counter',
      samples: perApp((app, c) =>
        c.limitQueued > 0 || c.limitShed > 0
          ? [
              { labels: { app, outcome: 'queued' }, value: c.limitQueued },
              { labels: { app, outcome: 'shed' }, value: c.limitShed },
            ]
          : [],
      ),
    });
    registerComputed(registry, {
      name: 'paas_router_unrouted_total',
      help: 'Requests for hosts no app answers, and requests that could not be read.',
      type: 'counter',
      samples: () => [{ labels: {}, value: this.metrics.totals().unrouted }],
    });
    registerComputed(registry, {
      name: 'paas_router_backends',
      help: 'Backends that pass their health check, by app.',
      type: 'gauge',
      samples: () =>
        this.routing
          .describe()
          .map((app) => ({ labels: { app: app.app }, value: app.backends.filter((b) => b.healthy).length })),
    });
    registerComputed(registry, {
      name: 'paas_router_route_table_version',
      help: 'The version of the route table this router serves by.',
      type: 'gauge',
      samples: () => [{ labels: {}, value: this.watcher.version }],
    });
    registerComputed(registry, {
      name: 'paas_router_workers',
      help: 'Worker processes serving (0: the primary serves by itself).',
      type: 'gauge',
      samples: () => [{ labels: {}, value: this.workers }],
    });
  }

  private connect(role: string): Redis {
    const redis = connectRedis(this.config.redisUrl, {}, { ca: this.config.redisCa });
    redis.on('error', (err: Error) => {
      // ioredis retries by itself; say so once per distinct error, not on every retry.
      const key = `${role} ${err.message}`;
      const last = this.redisErrors.get(key) ?? 0;
      if (Date.now() - last > 60_000) this.log(`redis (${role}): ${err.message}; retrying`);
      this.redisErrors.set(key, Date.now());
    });
    return redis;
  }

  /** Loads the route table (waiting for Redis if need be) and starts the checks and metrics. */
  async start(): Promise<void> {
    const waiting = setInterval(
      () => this.log(`waiting for redis (${redactRedisUrl(this.config.redisUrl)}) to load the route table`),
      5000,
    );
    try {
      await this.watcher.start();
      await this.certWatcher?.start();
    } finally {
      clearInterval(waiting);
    }
    this.health.start();
    this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
    this.sampler.unref();
  }

  private onRoutes(routes: ReadonlyMap<string, AppRoute>, change: RouteChange): void {
    this.routes = routes;
    this.health.setTargets(routes);
    for (const problem of this.routing.setRoutes(routes.values(), change.version, this.health.down())) {
      this.log(problem);
    }
    const what = change.apps === 'all' ? `${routes.size} apps` : change.apps.join(', ');
    this.log(`route table version ${change.version} (${what})`);
    this.broadcast(this.routesMessage());
  }

  private onCerts(table: ReadonlyMap<string, readonly TableCert[]>): void {
    const file = this.config.tls?.sealingKeyFile ?? '';
    let key: Buffer | null = null;
    try {
      // Read at every change: the api may make the key after the router started.
      key = loadSealingKey(file);
    } catch (err) {
      const count = [...table.values()].reduce((n, list) => n + list.length, 0);
      if (count > 0)
        this.log(`cannot open certificate keys (${count} skipped): sealing key ${file}: ${(err as Error).message}`);
    }
    const opened = key ? openCerts(table, key) : { certs: [], problems: [] };
    for (const problem of opened.problems) this.log(problem);
    this.certs = opened.certs;
    this.log(`certificate table version ${this.certWatcher?.version} (${opened.certs.length} certificates)`);
    this.broadcast(this.certsMessage());
  }

  /** The opened certificates for a worker that starts or after a change. */
  certsMessage(): ToWorker {
    return { type: 'certs', version: this.certWatcher?.version ?? -1, certs: this.certs };
  }

  /** The key authorization of an ACME token (null: none); rejects when Redis does not answer in time. */
  async acmeChallenge(token: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ACME_READ_MS} ms`)), ACME_READ_MS);
    });
    try {
      return await Promise.race([readAcmeChallenge(this.reader, token), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The whole table for a worker that starts or after a change. */
  routesMessage(): ToWorker {
    return {
      type: 'routes',
      version: this.watcher.version,
      routes: [...this.routes.values()],
      down: this.health.down(),
    };
  }

  /** Counters of one worker (or of the in-process router). */
  report(worker: string, snapshot: CounterSnapshot): void {
    this.metrics.report(worker, snapshot);
  }

  onWorkerMessage(worker: string, message: ToPrimary, reply: (message: ToWorker) => void): void {
    if (message.type === 'hello') {
      reply(this.routesMessage());
      if (this.certWatcher) reply(this.certsMessage());
    } else if (message.type === 'acme') {
      this.acmeChallenge(message.token).then(
        (answer) => reply({ type: 'acme', id: message.id, answer }),
        (err: Error) => reply({ type: 'acme', id: message.id, answer: null, error: err.message }),
      );
    } else if (message.type === 'certs-applied') this.appliedCerts.set(worker, message.version);
    else if (message.type === 'metrics') this.metrics.report(worker, message.snapshot);
    else if (message.type === 'refused') this.health.checkNow(message.address);
    else if (message.type === 'wake') this.wakes.request(message.app);
    else if (message.type === 'woke') this.wokeFirstByte(message.app, message.ms);
    else if (message.type === 'applied') this.applied.set(worker, message.version);
  }

  /** A woken app's first byte went out: the leader puts it in the app's log (best effort). */
  wokeFirstByte(app: string, ms: number): void {
    if (this.reader.status !== 'ready') return;
    reportFirstByte(this.reader, app, ms).catch((err: Error) => this.log(`reporting a wake of ${app}: ${err.message}`));
  }

  /** A worker is gone: its counters and its table version no longer count. */
  retire(worker: string): void {
    this.metrics.retire(worker);
    this.applied.delete(worker);
    this.appliedCerts.delete(worker);
  }

  private sample(): void {
    this.latest = this.metrics.sample(this.routerId);
    if (this.reader.status === 'ready') {
      publishRouterMetrics(this.reader, this.latest).catch((err: Error) =>
        this.log(`publishing metrics: ${err.message}`),
      );
      this.reportActivity();
    }
  }

  /**
   * Once a second, the apps whose last request or in-flight count moved (and those with
   * requests in flight, so the leader knows this router still holds them): what the scheduler
   * leader reads to put idle apps to sleep. Nothing is written for an app at rest.
   */
  private reportActivity(): void {
    const moved: RouterActivity[] = [];
    for (const [app, c] of this.metrics.totals().apps) {
      if (c.lastRequestAt === 0) continue;
      const said = `${c.lastRequestAt} ${c.inflight}`;
      if (this.activity.get(app) === said && c.inflight === 0) continue;
      this.activity.set(app, said);
      moved.push({ app, lastRequestAt: c.lastRequestAt, inflight: c.inflight });
    }
    reportActivity(this.reader, this.routerId, moved).catch((err: Error) => {
      for (const a of moved) this.activity.delete(a.app); // said again next time
      this.log(`reporting activity: ${err.message}`);
    });
  }

  metricsDocument(): object {
    const latest = this.latest ?? this.metrics.sample(this.routerId);
    return {
      ...latest,
      workers: this.workers,
      routesVersion: this.watcher.version,
      backends: this.routing.describe().flatMap((app) =>
        app.backends.map((b) => ({
          app: app.app,
          ...b,
          lastError: this.health.status(b.address)?.lastError ?? null,
        })),
      ),
    };
  }

  async listenAdmin(address: ListenAddress): Promise<AddressInfo> {
    const server = createServer((req, res) => this.onAdmin(req, res));
    this.admin = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  private onAdmin(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: object): void => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET' });
    if (path === '/_paas/metrics') return send(200, this.metricsDocument());
    if (path === '/metrics') return void answerMetrics(this.prometheus, req, res);
    if (path === '/_paas/health') {
      return send(200, {
        status: 'ok',
        routesVersion: this.watcher.version,
        workers: this.workers,
        workerVersions: [...this.applied.values()],
        certsVersion: this.certWatcher?.version ?? null,
        workerCertsVersions: [...this.appliedCerts.values()],
        certificates: this.certs.map((c) => ({ app: c.app, id: c.id, domains: c.domains, notAfter: c.notAfter })),
      });
    }
    send(404, { error: `no ${path}; try /metrics, /_paas/metrics or /_paas/health` });
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    this.health.stop();
    const admin = this.admin;
    if (admin) {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await closed;
    }
    await this.watcher.stop();
    await this.certWatcher?.stop();
    if (this.reader.status === 'ready' && this.routerId) {
      await removeRouterMetrics(this.reader, this.routerId).catch(() => undefined);
      // a restarted router has a new id: this one's fields would otherwise stay in every app's hash
      await removeActivity(this.reader, this.routerId, [...this.activity.keys()]).catch(() => undefined);
    }
    this.reader.disconnect();
    this.subscriber.disconnect();
  }
}
