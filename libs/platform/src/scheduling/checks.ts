/**
 * The check a new instance must pass before a deploy counts it in, from the release's
 * app.json `healthchecks` (Dokku's format: process type -> list of checks).
 *
 *   a check with a `path`      HTTP GET http://INSTANCE:PORT/path, answered 2xx/3xx (and
 *                              containing `content` when given)
 *   a check without a path     a TCP connect to the port
 *   web without checks         HTTP GET / answered with anything below 500 (the app serves)
 *   other types without checks the process is still running after a moment (Dokku's default)
 *
 * `startup` and `readiness` checks gate the deploy; `liveness` checks are left to the routers'
 * active checks. Of several gating checks, the first is used. Times in app.json are seconds
 * (Dokku); `attempts` tries spaced by `wait`, each given `timeout`, after `initialDelay`.
 */
import type { HealthcheckSpec } from '../model/entities';

interface Timing {
  readonly attempts: number;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly initialDelayMs: number;
}

export type DeployCheck =
  | ({
      readonly kind: 'http';
      readonly path: string;
      readonly port: number;
      readonly content?: string;
      readonly anyStatus: boolean;
    } & Timing)
  | ({ readonly kind: 'tcp'; readonly port: number } & Timing)
  | { readonly kind: 'uptime'; readonly ms: number };

/** Without app.json values: about 30 s for an app to start listening, tried often so a fast app goes live fast. */
export const DEFAULT_TIMING: Timing = { attempts: 120, timeoutMs: 2000, intervalMs: 250, initialDelayMs: 0 };
/** How long a process without a port must keep running to count as started. */
export const DEFAULT_UPTIME_MS = 1000;

function timing(spec: HealthcheckSpec): Timing {
  return {
    attempts: spec.attempts ?? DEFAULT_TIMING.attempts,
    timeoutMs: spec.timeout !== undefined ? Math.max(spec.timeout, 1) * 1000 : DEFAULT_TIMING.timeoutMs,
    // `wait: 0` still leaves a little room between tries
    intervalMs: spec.wait !== undefined ? Math.max(spec.wait * 1000, 100) : DEFAULT_TIMING.intervalMs,
    initialDelayMs: 0,
  };
}

/** The deploy check of one process type. `port` is the instance's PORT. */
export function deployCheck(
  type: string,
  healthchecks: Readonly<Record<string, readonly HealthcheckSpec[]>> | null | undefined,
  port: number,
): DeployCheck {
  const gating = (healthchecks?.[type] ?? []).filter((c) => c.type !== 'liveness');
  const spec = gating[0];
  if (spec) {
    const at = spec.port ?? port;
    if (spec.path !== undefined) {
      return {
        kind: 'http',
        path: spec.path,
        port: at,
        anyStatus: false,
        ...(spec.content !== undefined ? { content: spec.content } : {}),
        ...timing(spec),
      };
    }
    return { kind: 'tcp', port: at, ...timing(spec) };
  }
  if (type === 'web') return { kind: 'http', path: '/', port, anyStatus: true, ...DEFAULT_TIMING };
  return { kind: 'uptime', ms: DEFAULT_UPTIME_MS };
}

/**
 * The routers' active check for an app's web backends (routes.ts `HealthCheck`): the path of
 * the web process's first HTTP check, else a TCP connect (a default `/` may well answer 404).
 */
export function routeCheck(
  healthchecks: Readonly<Record<string, readonly HealthcheckSpec[]>> | null | undefined,
): { type: 'http'; path: string } | { type: 'tcp' } {
  const web = (healthchecks?.['web'] ?? []).find((c) => c.path !== undefined);
  return web?.path !== undefined ? { type: 'http', path: web.path } : { type: 'tcp' };
}

/** How often a woken instance's check is tried (scale to zero: its first request waits for it). */
export const WAKE_CHECK_INTERVAL_MS = 15;

/**
 * The check of an instance that may be woken by a request (its web process sleeps when idle):
 * tried every WAKE_CHECK_INTERVAL_MS instead of every few hundred, over the same total wait, so
 * that the held requests go on within milliseconds of the app listening.
 */
export function wakeCheck(check: DeployCheck): DeployCheck {
  if (check.kind === 'uptime' || check.intervalMs <= WAKE_CHECK_INTERVAL_MS) return check;
  const attempts = Math.ceil((check.attempts * check.intervalMs) / WAKE_CHECK_INTERVAL_MS);
  return { ...check, attempts, intervalMs: WAKE_CHECK_INTERVAL_MS };
}
