/**
 * The scheduler's Nest side: runs the reconcile pass (pass.ts: nodes, plan, commit, routes,
 * wake agents) every PAAS_RECONCILE_MS, and at once after a change (a release made or moved
 * in this process, a kick on SCHEDULER_KICK_CHANNEL from another one, a heartbeat or a scale
 * asking for one), with its real roles (scheduling-store.ts over the database,
 * scheduler-redis.ts over Redis).
 *
 * Passes and heartbeats run one at a time (`serial`), so the plan always sees what the last
 * heartbeat wrote.
 *
 * Any number of api processes may share one database and Redis; only the one that leads
 * (leader.ts) runs passes. The others serve the API, heartbeats and pushes, and pass their
 * kicks on to the leader over SCHEDULER_KICK_CHANNEL. Each term gets a Reconciler of its own
 * (what a pass remembers in memory, the deploy clocks and the route table last written, starts
 * afresh from the tables and Redis), whose writes are fenced by the term: a plan of an old term
 * never commits, and its route writes stop once this process knows it lost office.
 *
 * The leader also runs the term's ACME issuer, which looks on its own timer and when asked
 * (wakeAcmeIssuer, over the same channel from another api), never because of a pass.
 */
import { HttpAdapterHost } from '@nestjs/core';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  CertTableKeeper,
  KICK_ACME,
  RedisCertTable,
  Release,
  SCHEDULER_KICK_CHANNEL,
  askForAcmeRound,
  askForPass,
  whenReady,
} from '@paas/platform';
import type { AppRoute } from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import type { AcmeIssuer } from '../certs/acme-issuer';
import { termAcmeIssuer } from '../certs/acme-orders';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { LeaderElector, NotLeaderError } from './leader';
import { type PassRoles, Reconciler, type RouteTable, WAKE_BACKOFF } from './pass';
import { RedisNodeNotifier, RedisRouteTable, RedisWakeSignals, SchedulerMessages } from './scheduler-redis';
import { SchedulingStore } from './scheduling-store';

/** The longest a pass asked for waits after the one before (see reconcileNow). */
const MAX_PACE_MS = 1000;

@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('scheduler');
  /**
   * `line` (LineEvent) and `settled` (SettledEvent), for deploy watchers in this process;
   * `leadership` (boolean) when this process takes or loses office.
   */
  readonly events = new EventEmitter();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private subscriber: Redis | undefined;
  private releaseCommitted = false;
  private asking: NodeJS.Timeout | undefined;
  private readonly messages: SchedulerMessages;
  /** This term's pass; null while another api leads. */
  private reconciler: Reconciler | null = null;
  /** This term's upkeep of the certificate table (written whole when the term starts or it was lost). */
  private certKeeper: CertTableKeeper | null = null;
  /** This term's issuer of certificates from ACME (certs/acme-issuer.ts); null without PAAS_ACME_DIRECTORY. */
  private acmeIssuer: AcmeIssuer | null = null;
  private readonly makeReconciler: (epoch: number) => Reconciler;
  /** Whether this process runs the scheduler now (any number serve the API). */
  readonly leader: LeaderElector;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {
    this.events.setMaxListeners(0);
    this.messages = new SchedulerMessages(redis, this.events, this.logger);
    const { strategy, nodeTimeoutMs, deployTimeoutMs, maxSurge, maxUnavailable, wakeBackoffMs } = config.scheduler;
    const notifier = new RedisNodeNotifier(redis);
    this.makeReconciler = (epoch) => {
      const store = new SchedulingStore(dataSource, this.leader.fence(epoch));
      const roles: PassRoles = {
        nodes: store,
        desired: store,
        committer: store,
        serving: store,
        routes: new TermRouteTable(new RedisRouteTable(redis), () => this.leader.epoch === epoch),
        messages: this.messages,
        notifier,
        clock: { now: () => Date.now() },
        logger: this.logger,
        wakes: new RedisWakeSignals(redis),
      };
      return new Reconciler(roles, {
        strategy: strategy === 'binpack' ? 'binpack' : 'spread',
        nodeTimeoutMs,
        deployTimeoutMs,
        maxSurge,
        maxUnavailable,
        wakeBackoff: { firstMs: wakeBackoffMs, capMs: Math.max(WAKE_BACKOFF.capMs, wakeBackoffMs) },
      });
    };
    this.leader = new LeaderElector(
      dataSource,
      { holder: `${hostname()} pid ${process.pid}`, address: () => this.listenAddress() },
      this.logger,
      (leading) => this.leadershipChanged(leading),
    );
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
    this.timer = setInterval(() => this.passHere(), this.config.scheduler.reconcileMs);
    this.timer.unref();
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, message: string) =>
      message === KICK_ACME ? this.acmeRoundHere() : this.passHere(),
    );
    subscriber.on('error', () => undefined); // reconnects by itself; passes run on the timer meanwhile
    await whenReady(subscriber);
    await subscriber.subscribe(SCHEDULER_KICK_CHANNEL).catch((err: unknown) => {
      this.logger.warn(`cannot subscribe to ${SCHEDULER_KICK_CHANNEL}: ${(err as Error).message}`);
    });
    // takes office at once when no other api leads (always on SQLite); else tries every second
    await this.leader.start();
    // the port is known once the server listens (PAAS_API_ADDR may ask for any, :0)
    const server = this.httpServer();
    if (server && !server.listening) {
      server.once('listening', () => {
        this.leader.advertise().catch((err: unknown) => this.logger.warn(`cannot record the address: ${String(err)}`));
      });
    }
  }

  private httpServer(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }

  /** Where this api listens, as operators reach it (`paas nodes`). */
  private listenAddress(): string {
    const address = this.httpServer()?.address();
    if (address && typeof address === 'object') {
      return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    }
    const { host, port } = this.config.listen;
    return `${host}:${port}`;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pending);
    clearTimeout(this.asking);
    this.subscriber?.disconnect();
    await this.running?.catch(() => undefined);
    await this.chain.catch(() => undefined);
    await this.acmeIssuer?.stop();
    // hands over now rather than when the session times out
    await this.leader.stop();
  }

  private leadershipChanged(leading: boolean): void {
    this.reconciler = leading && this.leader.epoch !== null ? this.makeReconciler(this.leader.epoch) : null;
    this.certKeeper = this.reconciler
      ? new CertTableKeeper(this.dataSource.manager, new RedisCertTable(this.redis), (line) => this.logger.warn(line))
      : null;
    void this.acmeIssuer?.stop();
    const epoch = this.leader.epoch;
    this.acmeIssuer =
      this.reconciler && epoch !== null
        ? termAcmeIssuer(this.dataSource, this.redis, this.config, this.leader.fence(epoch), (line) =>
            this.logger.warn(line),
          )
        : null;
    this.acmeIssuer?.start(this.config.acme.intervalMs);
    // the term's other periodic work (daily add-on backups) starts and stops with it
    this.events.emit('leadership', leading);
    if (leading) this.passHere();
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

  /**
   * Asks for a pass soon, from whichever api leads: here when this one does, else over
   * SCHEDULER_KICK_CHANNEL. Many asks in a row make one pass.
   */
  kick(): void {
    if (!this.enabled || this.stopped) return;
    if (this.leader.leading) return this.passHere();
    if (this.asking) return;
    this.asking = setTimeout(() => {
      this.asking = undefined;
      // best effort: the leader's timer catches up
      askForPass(this.redis).catch(() => undefined);
    }, 5);
  }

  /**
   * Asks the leader's ACME issuer for a round (auto certificates enabled for an app, a domain
   * added to such an app): here when this api leads, else over SCHEDULER_KICK_CHANNEL; best
   * effort, the issuer's timer catches up.
   */
  wakeAcmeIssuer(): void {
    if (!this.enabled || this.stopped) return;
    if (this.leader.leading) return this.acmeRoundHere();
    askForAcmeRound(this.redis).catch(() => undefined);
  }

  private acmeRoundHere(): void {
    if (this.stopped || !this.leader.leading) return;
    this.acmeIssuer?.poke();
  }

  /** A pass here soon, if this api leads. */
  private passHere(): void {
    if (!this.enabled || this.stopped || this.pending || !this.leader.leading) return;
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
          const started = performance.now();
          await this.serial(() => this.reconcile()).catch((err: unknown) => {
            this.logger.error(`reconcile: ${(err as Error).stack ?? String(err)}`);
          });
          // while instances come and go, every heartbeat asks for a pass: back to back, passes
          // over a thousand instances took the whole process and heartbeats queued behind them.
          // A pass asked for meanwhile waits as long as the last one took: at most half the time
          // goes to passes, and a quick pass (a small platform) is hardly delayed.
          if (this.again && !this.stopped) await sleep(Math.min(performance.now() - started, MAX_PACE_MS));
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** One line in an app's log from the scheduler, and to this process's deploy watchers. */
  log(appId: string, line: string): Promise<void> {
    return this.messages.line(appId, line);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const reconciler = this.reconciler;
    if (!reconciler) return;
    try {
      const { planAgain } = await reconciler.pass();
      if (planAgain) this.again = true;
      await this.certKeeper
        ?.keep()
        .catch((err: unknown) => this.logger.error(`certificate table: ${(err as Error).message}`));
    } catch (err) {
      // the elector has stepped down already; the new leader plans from what is committed
      if (err instanceof NotLeaderError) return this.logger.warn(`pass dropped: ${err.message}`);
      throw err;
    }
  }
}

/**
 * The route table as one term of leadership writes it: once this process knows its term is
 * over, its writes stop (a pass under way when office was lost does not overwrite the new
 * leader's routes; one written before it knew moves the table's version, and the leader's next
 * pass reads the table again and puts it right: pass.ts writeRoutes).
 */
class TermRouteTable implements RouteTable {
  constructor(
    private readonly table: RouteTable,
    private readonly current: () => boolean,
  ) {}

  read(): Promise<Map<string, string>> {
    return this.table.read();
  }

  version(): Promise<number> {
    return this.table.version();
  }

  async write(route: AppRoute): Promise<number> {
    this.check();
    return this.table.write(route);
  }

  async remove(app: string): Promise<number> {
    this.check();
    return this.table.remove(app);
  }

  async rebuild(routes: readonly AppRoute[], past: number): Promise<number> {
    this.check();
    return this.table.rebuild(routes, past);
  }

  private check(): void {
    if (!this.current()) throw new NotLeaderError('its term ended during the pass');
  }
}
