/**
 * Request counters. Each worker counts its own (`Counters`) and sends them to the primary
 * every second; the primary sums the workers (`MetricsAggregator`) and turns the totals into
 * requests per second over a sliding window, and into the Prometheus text of the admin
 * address (control.ts). Request durations go into a fixed array of bucket counts per app
 * (DURATION_BUCKETS), so that counting a request allocates nothing.
 */
import { countDuration, durationCounts } from '@paas/platform/metrics';
import type { AppMetrics, RouterMetrics } from '@paas/platform/routes';

export interface AppCounters {
  requests: number;
  inflight: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  bytes: number;
  /** Plain requests (not websockets) by duration: per-bucket counts of DURATION_BUCKETS, then above the last. */
  durations: number[];
  /** Their durations added up, in seconds. */
  durationSum: number;
  /** When the last request came (ms since the epoch; 0: none yet): scale to zero reads it (wake.ts). */
  lastRequestAt: number;
  /** Held requests by how long they waited for the wake, per bucket of DURATION_BUCKETS as `durations`. */
  wakeDurations: number[];
  wakeDurationSum: number;
  /** Requests that waited because every backend had the app's hard limit in flight... */
  limitQueued: number;
  /** ...and those answered 503 for it (its queue full, or they waited too long). */
  limitShed: number;
}

export interface CounterSnapshot {
  readonly apps: Record<string, AppCounters>;
  /** Requests for hosts no app answers, and malformed ones. */
  readonly unrouted: number;
}

function zero(): AppCounters {
  return {
    requests: 0,
    inflight: 0,
    s2xx: 0,
    s3xx: 0,
    s4xx: 0,
    s5xx: 0,
    bytes: 0,
    durations: durationCounts(),
    durationSum: 0,
    lastRequestAt: 0,
    wakeDurations: durationCounts(),
    wakeDurationSum: 0,
    limitQueued: 0,
    limitShed: 0,
  };
}

export class Counters {
  private readonly apps = new Map<string, AppCounters>();
  unrouted = 0;

  app(name: string): AppCounters {
    let c = this.apps.get(name);
    if (!c) {
      c = zero();
      this.apps.set(name, c);
    }
    return c;
  }

  /** One answered request; `seconds`: how long it took, null for a websocket (its whole life is no latency). */
  answered(c: AppCounters, status: number, bytes: number, seconds: number | null): void {
    c.requests++;
    if (seconds !== null) {
      countDuration(c.durations, seconds);
      c.durationSum += seconds;
    }
    c.bytes += bytes;
    if (status >= 500) c.s5xx++;
    else if (status >= 400) c.s4xx++;
    else if (status >= 300) c.s3xx++;
    else c.s2xx++;
  }

  /** A held request went on to the woken app after `seconds`. */
  woke(c: AppCounters, seconds: number): void {
    countDuration(c.wakeDurations, seconds);
    c.wakeDurationSum += seconds;
  }

  snapshot(): CounterSnapshot {
    const apps: Record<string, AppCounters> = {};
    for (const [name, c] of this.apps)
      apps[name] = { ...c, durations: [...c.durations], wakeDurations: [...c.wakeDurations] };
    return { apps, unrouted: this.unrouted };
  }
}

function add(into: AppCounters, from: AppCounters, withInflight: boolean): void {
  into.requests += from.requests;
  into.s2xx += from.s2xx;
  into.s3xx += from.s3xx;
  into.s4xx += from.s4xx;
  into.s5xx += from.s5xx;
  into.bytes += from.bytes;
  into.durationSum += from.durationSum;
  from.durations.forEach((n, i) => (into.durations[i] = (into.durations[i] ?? 0) + n));
  into.lastRequestAt = Math.max(into.lastRequestAt, from.lastRequestAt ?? 0);
  into.wakeDurationSum += from.wakeDurationSum ?? 0;
  (from.wakeDurations ?? []).forEach((n, i) => (into.wakeDurations[i] = (into.wakeDurations[i] ?? 0) + n));
  into.limitQueued += from.limitQueued ?? 0;
  into.limitShed += from.limitShed ?? 0;
  if (withInflight) into.inflight += from.inflight;
}

/** How far back requests per second looks. */
const WINDOW_MS = 5000;

export class MetricsAggregator {
  private readonly workers = new Map<string, CounterSnapshot>();
  /** What workers that exited had counted, so totals never go back. */
  private readonly retired = new Map<string, AppCounters>();
  private retiredUnrouted = 0;
  /**
   * Workers already retired (cluster ids are never reused): a report of theirs still in the
   * pipe after `exit` is dropped, losing at most its last second rather than counting its whole
   * life twice.
   */
  private readonly gone = new Set<string>();
  private history: Array<{ time: number; requests: Map<string, number> }> = [];

  report(worker: string, snapshot: CounterSnapshot): void {
    if (this.gone.has(worker)) return;
    this.workers.set(worker, snapshot);
  }

  /** A worker exited: keep its last counts (not its in-flight requests, which died with it). */
  retire(worker: string): void {
    this.gone.add(worker);
    const last = this.workers.get(worker);
    if (!last) return;
    this.workers.delete(worker);
    for (const [name, c] of Object.entries(last.apps)) {
      let into = this.retired.get(name);
      if (!into) this.retired.set(name, (into = zero()));
      add(into, c, false);
    }
    this.retiredUnrouted += last.unrouted;
  }

  totals(): { apps: Map<string, AppCounters>; unrouted: number } {
    const apps = new Map<string, AppCounters>();
    const into = (name: string): AppCounters => {
      let c = apps.get(name);
      if (!c) apps.set(name, (c = zero()));
      return c;
    };
    for (const [name, c] of this.retired) add(into(name), c, false);
    let unrouted = this.retiredUnrouted;
    for (const snapshot of this.workers.values()) {
      for (const [name, c] of Object.entries(snapshot.apps)) add(into(name), c, true);
      unrouted += snapshot.unrouted;
    }
    return { apps, unrouted };
  }

  /** Totals with requests per second; call about once a second (each call is a sample). */
  sample(router: string, now = Date.now()): RouterMetrics & { unrouted: number } {
    const { apps, unrouted } = this.totals();
    const requests = new Map([...apps].map(([name, c]) => [name, c.requests]));
    this.history.push({ time: now, requests });
    while (this.history.length > 2 && now - (this.history[1] as { time: number }).time >= WINDOW_MS) {
      this.history.shift();
    }
    const oldest = this.history[0] as { time: number; requests: Map<string, number> };
    const seconds = (now - oldest.time) / 1000;
    const out: Record<string, AppMetrics> = {};
    for (const [name, c] of apps) {
      const before = oldest.requests.get(name) ?? 0;
      out[name] = {
        requests: c.requests,
        requestsPerSecond: seconds > 0 ? Math.round(((c.requests - before) / seconds) * 100) / 100 : 0,
        inflight: c.inflight,
        status: { '2xx': c.s2xx, '3xx': c.s3xx, '4xx': c.s4xx, '5xx': c.s5xx },
        bytes: c.bytes,
      };
    }
    return { router, time: now, apps: out, unrouted };
  }
}
