/**
 * Active health checks, run once per router (in the primary) for every backend in the table:
 * an HTTP GET of the app's check path answered 2xx/3xx, or a TCP connect. `fall` failures in a
 * row take a backend out, `rise` successes bring it back; each change is reported once, and a
 * probe still in flight for a target that was replaced meanwhile is ignored.
 *
 * At scale (1,000 backends on one node) the checks are most of what a router does at rest, so:
 * - Each backend is checked on its own phase of the interval (spread by the golden ratio as
 *   backends arrive), never all at once: a tick every `intervalMs / 20` starts the probes that
 *   are due, so a burst is about a twentieth of the backends, and the event loop stays free
 *   to pass route changes on.
 * - A backend that has passed `SETTLED_PASSES` checks in a row is checked every
 *   `idleIntervalMs` instead; its first failure puts it back on `intervalMs`. A new backend
 *   counts as settled: it is in the table because its deploy check just passed. What it loses in
 *   detection time the workers make up for: a worker that sees a backend refuse a connection
 *   asks for `checkNow` (and retries the request elsewhere).
 * - A probe opens a new connection each time. Keep-alive would save HTTP checks a handshake,
 *   but a kept connection answers for a backend that no longer accepts new ones, and busybox
 *   httpd (the small app of the 1,000-instance case) closes after each answer anyway.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { AppRoute, HealthCheck } from '@paas/platform/routes';
import { parseAddress } from '@paas/platform/routes';

export interface ProbeTarget {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly check: HealthCheck;
  /** The Host header an HTTP check sends (APP.<domain>). */
  readonly hostHeader: string;
}

/** Probes one backend; resolves null when it is healthy, else why it is not. */
export function probe(target: ProbeTarget, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    let cleanup = (): void => undefined;
    const done = (reason: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => {
      done(`no answer within ${timeoutMs} ms`);
      cleanup();
    }, timeoutMs);
    if (target.check.type === 'tcp') {
      const socket = connect({ host: target.host, port: target.port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => {
        done(null);
        socket.destroy();
      });
      socket.once('error', (err: NodeJS.ErrnoException) => done(`connect: ${err.code ?? err.message}`));
      return;
    }
    const path = target.check.path;
    const req = request({
      host: target.host,
      port: target.port,
      path,
      method: 'GET',
      agent: false,
      headers: { host: target.hostHeader, 'user-agent': 'paas-router-health-check', connection: 'close' },
    });
    cleanup = () => req.destroy();
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(status >= 200 && status < 400 ? null : `GET ${path} answered ${status}`);
      req.destroy();
    });
    req.once('error', (err: NodeJS.ErrnoException) => done(`GET ${path}: ${err.code ?? err.message}`));
    req.end();
  });
}

/** Probes one backend: resolves null when it is healthy, else why it is not (`probe` by default). */
export type Prober = (target: ProbeTarget, timeoutMs: number) => Promise<string | null>;

/** Passes in a row after which a backend is checked every `idleIntervalMs`. */
export const SETTLED_PASSES = 5;
/** The golden ratio's fractional part: phases k * PHI mod 1 stay evenly spread for any k. */
const PHI = 0.618033988749895;

interface TargetState {
  target: ProbeTarget;
  healthy: boolean;
  fails: number;
  passes: number;
  running: boolean;
  /** Bumped when the target is replaced, so a probe in flight for the old one is ignored. */
  generation: number;
  lastError: string | null;
  /** When the next scheduled probe is due (on the `now` clock). */
  due: number;
}

export interface HealthOptions {
  readonly intervalMs: number;
  /** How often a backend that keeps passing is checked (default: `intervalMs`, i.e. no slow-down). */
  readonly idleIntervalMs?: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly domain: string;
  readonly onChange: (address: string, healthy: boolean, reason: string | null, target: ProbeTarget) => void;
  /** Default: `probe`. */
  readonly probe?: Prober;
  /** Milliseconds on a monotonic clock (default: performance.now). */
  readonly now?: () => number;
}

export class HealthChecker {
  private readonly states = new Map<string, TargetState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly prober: Prober;
  private readonly now: () => number;
  private readonly idleIntervalMs: number;
  /** How often due probes are looked for. */
  readonly tickMs: number;
  private arrivals = 0;

  constructor(private readonly options: HealthOptions) {
    this.prober = options.probe ?? probe;
    this.now = options.now ?? (() => performance.now());
    this.idleIntervalMs = Math.max(options.intervalMs, options.idleIntervalMs ?? options.intervalMs);
    this.tickMs = Math.min(250, Math.max(10, Math.floor(options.intervalMs / 20)));
  }

  /** The backends to check: every backend of every app (new ones start healthy). */
  setTargets(routes: ReadonlyMap<string, AppRoute>): void {
    const seen = new Set<string>();
    const now = this.now();
    for (const route of routes.values()) {
      const hostHeader = `${route.app}.${this.options.domain}`;
      for (const backend of route.backends) {
        if (seen.has(backend.address)) continue;
        const state = this.states.get(backend.address);
        if (state && sameTarget(state.target, route.check, hostHeader)) {
          seen.add(backend.address);
          continue;
        }
        const where = parseAddress(backend.address);
        if (!where) continue;
        seen.add(backend.address);
        const target: ProbeTarget = {
          address: backend.address,
          host: where.host,
          port: where.port,
          check: route.check,
          hostHeader,
        };
        if (!state) {
          // settled from the start: a backend enters the table once the platform's own check
          // of it passed (the agent's deploy check), moments ago. Checking it again five times
          // in its first ten seconds doubled the probes of a scale-up (a thousand new backends)
          // and found nothing the agent, which reports a crash at once, and the workers, which
          // ask for a check at the first refusal, do not find first.
          this.states.set(backend.address, {
            target,
            healthy: true,
            fails: 0,
            passes: SETTLED_PASSES,
            running: false,
            generation: 0,
            lastError: null,
            due: now + ((this.arrivals++ * PHI) % 1) * this.idleIntervalMs,
          });
        } else {
          state.target = target;
          state.generation++;
        }
      }
    }
    for (const address of [...this.states.keys()]) if (!seen.has(address)) this.states.delete(address);
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts the probes that are due (the timer's job; specs call it with a fake clock). */
  tick(): void {
    const now = this.now();
    for (const state of this.states.values()) if (!state.running && state.due <= now) void this.run(state);
  }

  /** Checks one backend now (a worker saw it refuse a connection). */
  checkNow(address: string): void {
    const state = this.states.get(address);
    if (state) void this.run(state);
  }

  isHealthy(address: string): boolean {
    return this.states.get(address)?.healthy ?? true;
  }

  /** Addresses currently out. */
  down(): string[] {
    return [...this.states.values()].filter((s) => !s.healthy).map((s) => s.target.address);
  }

  status(address: string): { healthy: boolean; lastError: string | null } | undefined {
    const s = this.states.get(address);
    return s && { healthy: s.healthy, lastError: s.lastError };
  }

  private async run(state: TargetState): Promise<void> {
    if (state.running) return;
    state.running = true;
    const started = this.now();
    const generation = state.generation;
    const target = state.target;
    let reason: string | null;
    try {
      reason = await this.prober(target, this.options.timeoutMs);
    } catch (err) {
      reason = `probe: ${(err as Error).message}`;
    } finally {
      state.running = false;
    }
    if (this.states.get(target.address) !== state || state.generation !== generation) return;
    state.lastError = reason;
    if (reason === null) {
      state.fails = 0;
      state.passes++;
      if (!state.healthy && state.passes >= this.options.rise) {
        state.healthy = true;
        this.options.onChange(target.address, true, null, target);
      }
    } else {
      state.passes = 0;
      state.fails++;
      if (state.healthy && state.fails >= this.options.fall) {
        state.healthy = false;
        this.options.onChange(target.address, false, reason, target);
      }
    }
    // The next probe keeps the backend's phase (a probe asked for early starts a new one).
    const interval = state.healthy && state.passes >= SETTLED_PASSES ? this.idleIntervalMs : this.options.intervalMs;
    const from = state.due <= started ? state.due : started;
    state.due = Math.max(from + interval, this.now());
  }
}

function sameTarget(target: ProbeTarget, check: HealthCheck, hostHeader: string): boolean {
  return (
    target.hostHeader === hostHeader &&
    target.check.type === check.type &&
    (check.type === 'tcp' || (target.check.type === 'http' && target.check.path === check.path))
  );
}
