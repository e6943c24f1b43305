/**
 * The scheduler's Nest side: runs the reconcile pass (pass.ts: nodes, plan, commit, routes,
 * wake agents) every PAAS_RECONCILE_MS, and at once after a change (a release made or moved
 * in this process, a kick on SCHEDULER_KICK_CHANNEL from another one, a heartbeat or a scale
 * asking for one), with its real roles (scheduling-store.ts over the database,
 * scheduler-redis.ts over Redis).
 *
 * Passes and heartbeats run one at a time (`serial`), so the plan always sees what the last
 * heartbeat wrote. One control plane per database: passes are not coordinated across processes.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Release, SCHEDULER_KICK_CHANNEL } from '@paas/platform';
import type { Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { Reconciler } from './pass';
import { RedisNodeNotifier, RedisRouteTable, SchedulerMessages } from './scheduler-redis';
import { SchedulingStore } from './scheduling-store';

/** The longest a pass asked for waits after the one before (see reconcileNow). */
const MAX_PACE_MS = 1000;

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
  private releaseCommitted = false;
  private readonly messages: SchedulerMessages;
  private readonly reconciler: Reconciler;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.events.setMaxListeners(0);
    this.messages = new SchedulerMessages(redis, this.events, this.logger);
    const store = new SchedulingStore(dataSource);
    const { strategy, nodeTimeoutMs, deployTimeoutMs, maxSurge, maxUnavailable } = config.scheduler;
    this.reconciler = new Reconciler(
      {
        nodes: store,
        desired: store,
        committer: store,
        serving: store,
        routes: new RedisRouteTable(redis),
        messages: this.messages,
        notifier: new RedisNodeNotifier(redis),
        clock: { now: () => Date.now() },
        logger: this.logger,
      },
      {
        strategy: strategy === 'binpack' ? 'binpack' : 'spread',
        nodeTimeoutMs,
        deployTimeoutMs,
        maxSurge,
        maxUnavailable,
      },
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
    const { planAgain } = await this.reconciler.pass();
    if (planAgain) this.again = true;
  }
}
