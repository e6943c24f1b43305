/** Failed authentications one address may make within a window before it is refused. */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;

interface Window {
  readonly startedAt: number;
  failures: number;
}

/**
 * Counts failed authentications per remote address in fixed one-minute windows: after
 * MAX_FAILURES the address is refused until its window is over, so guessing tokens costs
 * a minute per ten guesses. In memory: one api process, and a restart forgives.
 */
export class AuthRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds the address must still wait, or 0 when it may try. */
  retryAfter(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < MAX_FAILURES) return 0;
    return Math.max(1, Math.ceil((window.startedAt + WINDOW_MS - this.now()) / 1000));
  }

  fail(address: string): void {
    const window = this.current(address);
    if (window) window.failures++;
    else {
      if (this.windows.size >= 10_000) this.sweep();
      this.windows.set(address, { startedAt: this.now(), failures: 1 });
    }
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= WINDOW_MS) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  /** Forgets finished windows, so many addresses cannot grow the map without bound. */
  private sweep(): void {
    const now = this.now();
    for (const [address, window] of this.windows) if (now - window.startedAt >= WINDOW_MS) this.windows.delete(address);
  }
}
