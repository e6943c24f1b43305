import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type App, Instance } from '@paas/platform';
import { type AppMetrics, type RouterMetrics, readRouterMetrics } from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import { type DataSource, In } from 'typeorm';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import type { AppMetricsView, MetricsSampleView } from './metrics.dto';

/** The service's time: the wall clock and a repeating timer (specs drive a fake one). */
export interface MetricsClock {
  now(): number;
  /** Runs `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => Promise<unknown>): () => void;
}

export const systemMetricsClock: MetricsClock = {
  now: () => Date.now(),
  every(ms, tick) {
    const timer = setInterval(() => void tick().catch(() => undefined), ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface MetricsOptions {
  /** Sampling period while someone watches the app. */
  readonly intervalMs: number;
  /** How much history to keep, and how long an app stays watched after its last request. */
  readonly windowMs: number;
  /** Default: the system's. */
  readonly clock?: MetricsClock;
}

export const METRICS_OPTIONS = Symbol('METRICS_OPTIONS');
export const DEFAULT_METRICS_OPTIONS: MetricsOptions = { intervalMs: 2000, windowMs: 10 * 60_000 };

interface Watched {
  name: string;
  lastAskedAt: number;
  samples: MetricsSampleView[];
}

interface Current {
  readonly routers: number;
  readonly totals: AppMetrics;
  readonly byState: Record<string, number>;
}

const ZERO: AppMetrics = {
  requests: 0,
  requestsPerSecond: 0,
  inflight: 0,
  bytes: 0,
  status: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
};

/** An app's figures summed over every router that published fresh metrics. */
function sumFor(app: string, routers: readonly RouterMetrics[]): { routers: number; totals: AppMetrics } {
  let count = 0;
  const t = { ...ZERO, status: { ...ZERO.status } };
  for (const router of routers) {
    const m = router.apps[app];
    if (!m) continue;
    count++;
    t.requests += m.requests ?? 0;
    t.requestsPerSecond += m.requestsPerSecond ?? 0;
    t.inflight += m.inflight ?? 0;
    t.bytes += m.bytes ?? 0;
    for (const k of ['2xx', '3xx', '4xx', '5xx'] as const) t.status[k] += m.status?.[k] ?? 0;
  }
  t.requestsPerSecond = Math.round(t.requestsPerSecond * 100) / 100;
  return { routers: count, totals: t };
}

/**
 * Requests per second (the routers' `paas:router-metrics`, see libs/platform routes.ts) and
 * instance counts over time, for the dashboard's charts. Routers publish only their latest
 * figures, so history is kept here: sampled every `intervalMs` for apps someone asked about
 * in the last `windowMs`, nothing at all while nobody looks. Each api process keeps its own.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  private readonly watched = new Map<string, Watched>();
  /** Stops the sampling timer; set while it runs. */
  private stopTimer: (() => void) | undefined;
  private sampling: Promise<Map<string, Current>> | undefined;
  private stopped = false;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_OPTIONS) private readonly options: MetricsOptions,
  ) {
    this.clock = options.clock ?? systemMetricsClock;
  }

  private readonly clock: MetricsClock;

  async forApp(app: App, now = this.clock.now()): Promise<AppMetricsView> {
    let entry = this.watched.get(app.id);
    if (!entry) {
      entry = { name: app.name, lastAskedAt: now, samples: [] };
      this.watched.set(app.id, entry);
    }
    entry.name = app.name;
    entry.lastAskedAt = now;
    this.schedule();
    // a pass already running may have started before this app was watched: then the next one
    const current = (await this.sample()).get(app.id) ??
      (await this.sample()).get(app.id) ?? { routers: 0, totals: ZERO, byState: {} };
    const total = Object.values(current.byState).reduce((a, b) => a + b, 0);
    return {
      app: app.name,
      time: entry.samples.at(-1)?.t ?? now,
      routers: current.routers,
      requests: current.totals.requests,
      requestsPerSecond: current.totals.requestsPerSecond,
      inflight: current.totals.inflight,
      bytes: current.totals.bytes,
      status: { ...current.totals.status },
      instances: { total, up: current.byState['up'] ?? 0, byState: current.byState },
      intervalMs: this.options.intervalMs,
      samples: [...entry.samples],
    };
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  private schedule(): void {
    if (this.stopTimer || this.stopped) return;
    this.stopTimer = this.clock.every(this.options.intervalMs, () => this.sample());
  }

  /**
   * One sample of every watched app (at most one pass at a time: a request during a pass
   * gets that pass's figures). Apps nobody asked about for `windowMs` are dropped; with none
   * left, the timer stops.
   */
  private sample(): Promise<Map<string, Current>> {
    this.sampling ??= this.takeSample().finally(() => {
      this.sampling = undefined;
    });
    return this.sampling;
  }

  private async takeSample(): Promise<Map<string, Current>> {
    const now = this.clock.now();
    for (const [id, entry] of this.watched) {
      if (now - entry.lastAskedAt > this.options.windowMs) this.watched.delete(id);
    }
    if (this.watched.size === 0) {
      this.stopTimer?.();
      this.stopTimer = undefined;
      return new Map();
    }
    const ids = [...this.watched.keys()];
    const [routers, rows] = await Promise.all([
      readRouterMetrics(this.redis),
      this.dataSource.manager
        .createQueryBuilder(Instance, 'i')
        .select('i.appId', 'appId')
        .addSelect('i.state', 'state')
        .addSelect('COUNT(*)', 'n')
        .where({ appId: In(ids), desired: 'run' })
        .groupBy('i.appId')
        .addGroupBy('i.state')
        .getRawMany<{ appId: string; state: string; n: string | number }>(),
    ]);
    const result = new Map<string, Current>();
    for (const [id, entry] of this.watched) {
      const byState: Record<string, number> = {};
      for (const row of rows) if (row.appId === id) byState[row.state] = Number(row.n);
      const { routers: count, totals } = sumFor(entry.name, routers);
      result.set(id, { routers: count, totals, byState });
      const last = entry.samples.at(-1);
      // a request right after the timer's pass does not add a point of its own
      if (!last || now - last.t >= this.options.intervalMs / 2) {
        entry.samples.push({
          t: now,
          requestsPerSecond: totals.requestsPerSecond,
          instances: Object.values(byState).reduce((a, b) => a + b, 0),
          up: byState['up'] ?? 0,
        });
      }
      while (entry.samples.length > 0 && now - (entry.samples[0]?.t ?? now) > this.options.windowMs) {
        entry.samples.shift();
      }
    }
    return result;
  }
}
