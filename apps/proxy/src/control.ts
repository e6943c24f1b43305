/**
 * The router's primary: one per router, whatever the number of workers. It follows the route
 * table in Redis, runs the active health checks, hands both to the workers, sums their
 * counters, publishes metrics to Redis and answers the admin address:
 *
 *   GET /_paas/metrics  {router, time, workers, routesVersion, apps: {APP: AppMetrics}, unrouted, backends}
 *   GET /_paas/health   {status: "ok", routesVersion, workers, workerVersions}
 *
 * `workerVersions` lists the table version each worker says it routes by, so a caller can
 * tell when a change has reached every worker.
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
  publishRouterMetrics,
  redactRedisUrl,
  removeRouterMetrics,
} from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import type { ProxyConfig } from './config';
import { HealthChecker } from './health';
import type { ToPrimary, ToWorker } from './messages';
import { Routing } from './routing';
import { type CounterSnapshot, MetricsAggregator } from './stats';

export type Broadcast = (message: ToWorker) => void;

const SAMPLE_MS = 1000;

export class Controller {
  readonly health: HealthChecker;
  readonly metrics = new MetricsAggregator();
  /** The primary's own view of the table, for the admin endpoint. */
  readonly routing: Routing;
  private readonly reader: Redis;
  private readonly subscriber: Redis;
  private readonly watcher: RouteWatcher;
  private routes: ReadonlyMap<string, AppRoute> = new Map();
  private latest: (RouterMetrics & { unrouted: number }) | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private admin: Server | undefined;
  private redisErrors = new Map<string, number>();
  /** Worker id -> the table version it applied last. */
  private readonly applied = new Map<string, number>();
  routerId = '';
  workers = 0;

  constructor(
    private readonly config: ProxyConfig,
    private readonly broadcast: Broadcast,
    private readonly log: (message: string) => void = (message) => console.error(`proxy: ${message}`),
  ) {
    this.routing = new Routing(config.domain);
    this.reader = this.connect('reader');
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
    if (message.type === 'hello') reply(this.routesMessage());
    else if (message.type === 'metrics') this.metrics.report(worker, message.snapshot);
    else if (message.type === 'refused') this.health.checkNow(message.address);
    else if (message.type === 'applied') this.applied.set(worker, message.version);
  }

  /** A worker is gone: its counters and its table version no longer count. */
  retire(worker: string): void {
    this.metrics.retire(worker);
    this.applied.delete(worker);
  }

  private sample(): void {
    this.latest = this.metrics.sample(this.routerId);
    if (this.reader.status === 'ready') {
      publishRouterMetrics(this.reader, this.latest).catch((err: Error) =>
        this.log(`publishing metrics: ${err.message}`),
      );
    }
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
    if (path === '/_paas/health') {
      return send(200, {
        status: 'ok',
        routesVersion: this.watcher.version,
        workers: this.workers,
        workerVersions: [...this.applied.values()],
      });
    }
    send(404, { error: `no ${path}; try /_paas/metrics or /_paas/health` });
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
    if (this.reader.status === 'ready' && this.routerId) {
      await removeRouterMetrics(this.reader, this.routerId).catch(() => undefined);
    }
    this.reader.disconnect();
    this.subscriber.disconnect();
  }
}
