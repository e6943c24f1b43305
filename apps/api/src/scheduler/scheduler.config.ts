import { ConfigError, type Env } from '@paas/config';
import { DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE, type RollingLimit, type Strategy } from '@paas/platform';

/** How the control plane schedules instances; from the api's environment (see config.ts). */
export interface SchedulerSettings {
  /** `PAAS_SCHEDULER`: spread (default), binpack, or off (record formations, run nothing). */
  readonly strategy: Strategy | 'off';
  /** `PAAS_NODE_TIMEOUT` (seconds, default 10): a node silent this long is down. */
  readonly nodeTimeoutMs: number;
  /** `PAAS_HEARTBEAT_MS` (default 1000): how often agents are told to report. */
  readonly heartbeatMs: number;
  /** `PAAS_RECONCILE_MS` (default 1000): the reconcile loop's period (changes also run it at once). */
  readonly reconcileMs: number;
  /** `PAAS_DEPLOY_TIMEOUT` (seconds, default 300): a deploy not live by then fails. */
  readonly deployTimeoutMs: number;
  /** `PAAS_DRAIN_MS` (default 2000): how long a leaving instance serves in-flight requests after leaving the routes. */
  readonly drainMs: number;
  /** `PAAS_STOP_TIMEOUT` (seconds, default 10): stop signal to SIGKILL. */
  readonly stopTimeout: number;
  /**
   * `PAAS_DEPLOY_MAX_SURGE` (default 100%): how many instances beyond a type's quantity may run
   * while they are replaced (a deploy, a resize, a restart), as a count (2) or a percentage (25%).
   */
  readonly maxSurge: RollingLimit;
  /**
   * `PAAS_DEPLOY_MAX_UNAVAILABLE` (default 25%, at least one): how many of a type's quantity may
   * be stopped at a time to make room when the nodes have none for a replacement.
   */
  readonly maxUnavailable: RollingLimit;
  /**
   * `PAAS_WAKE_BACKOFF_MS` (default 5000): the back-off after a failed wake of a sleeping app,
   * doubling with each failure in a row up to 5 min (or this, when longer), jittered: the
   * first is 2.5-5 s by default.
   */
  readonly wakeBackoffMs: number;
}

/** `3` or `25%`, as Kubernetes writes maxSurge and maxUnavailable. */
function rollingLimit(env: Env, name: string, fallback: RollingLimit): RollingLimit {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const match = /^(\d{1,5})(%?)$/.exec(value.trim());
  const n = Number(match?.[1]);
  if (!match || (match[2] ? n < 1 || n > 100 : n < 1))
    throw new ConfigError(name, value, 'expected a count of at least 1 (2) or a percentage from 1% to 100% (25%)');
  return match[2] ? { percent: n } : { count: n };
}

function seconds(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback * 1000;
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(name, value, `expected seconds from ${min} to ${max}`);
  return Math.round(n * 1000);
}

function millis(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(name, value, `expected milliseconds from ${min} to ${max}`);
  return n;
}

export function schedulerSettings(env: Env): SchedulerSettings {
  const strategy = (env['PAAS_SCHEDULER'] || 'spread').toLowerCase();
  if (strategy !== 'spread' && strategy !== 'binpack' && strategy !== 'off') {
    throw new ConfigError('PAAS_SCHEDULER', env['PAAS_SCHEDULER'] ?? '', 'expected spread, binpack or off');
  }
  return {
    strategy,
    nodeTimeoutMs: seconds(env, 'PAAS_NODE_TIMEOUT', 10, 0.5, 86_400),
    heartbeatMs: millis(env, 'PAAS_HEARTBEAT_MS', 1000, 100, 60_000),
    reconcileMs: millis(env, 'PAAS_RECONCILE_MS', 1000, 50, 60_000),
    deployTimeoutMs: seconds(env, 'PAAS_DEPLOY_TIMEOUT', 300, 1, 86_400),
    drainMs: millis(env, 'PAAS_DRAIN_MS', 2000, 0, 600_000),
    stopTimeout: Math.ceil(seconds(env, 'PAAS_STOP_TIMEOUT', 10, 0, 3600) / 1000),
    maxSurge: rollingLimit(env, 'PAAS_DEPLOY_MAX_SURGE', DEFAULT_MAX_SURGE),
    maxUnavailable: rollingLimit(env, 'PAAS_DEPLOY_MAX_UNAVAILABLE', DEFAULT_MAX_UNAVAILABLE),
    wakeBackoffMs: millis(env, 'PAAS_WAKE_BACKOFF_MS', 5000, 100, 3_600_000),
  };
}
