/**
 * Active health checks, run once per router (in the primary) for every backend in the table:
 * an HTTP GET of the app's check path answered 2xx/3xx, or a TCP connect. `fall` failures in a
 * row take a backend out, `rise` successes bring it back; each change is reported once.
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

interface TargetState {
  target: ProbeTarget;
  healthy: boolean;
  fails: number;
  passes: number;
  running: boolean;
  /** Bumped when the target is replaced, so a probe in flight for the old one is ignored. */
  generation: number;
  lastError: string | null;
}

export interface HealthOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly domain: string;
  readonly onChange: (address: string, healthy: boolean, reason: string | null, target: ProbeTarget) => void;
}

export class HealthChecker {
  private readonly states = new Map<string, TargetState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: HealthOptions) {}

  /** The backends to check: every backend of every app (new ones start healthy). */
  setTargets(routes: ReadonlyMap<string, AppRoute>): void {
    const seen = new Set<string>();
    for (const route of routes.values()) {
      for (const backend of route.backends) {
        if (seen.has(backend.address)) continue;
        const where = parseAddress(backend.address);
        if (!where) continue;
        seen.add(backend.address);
        const target: ProbeTarget = {
          address: backend.address,
          host: where.host,
          port: where.port,
          check: route.check,
          hostHeader: `${route.app}.${this.options.domain}`,
        };
        const state = this.states.get(backend.address);
        if (!state) {
          this.states.set(backend.address, {
            target,
            healthy: true,
            fails: 0,
            passes: 0,
            running: false,
            generation: 0,
            lastError: null,
          });
        } else if (JSON.stringify(state.target) !== JSON.stringify(target)) {
          state.target = target;
          state.generation++;
        }
      }
    }
    for (const address of [...this.states.keys()]) if (!seen.has(address)) this.states.delete(address);
  }

  start(): void {
    this.timer ??= setInterval(() => this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
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

  private round(): void {
    for (const state of this.states.values()) void this.run(state);
  }

  private async run(state: TargetState): Promise<void> {
    if (state.running) return;
    state.running = true;
    const generation = state.generation;
    const target = state.target;
    let reason: string | null;
    try {
      reason = await probe(target, this.options.timeoutMs);
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
  }
}
