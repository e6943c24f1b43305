import { isIPv6 } from 'node:net';

/** Failed authentications one address may make within a window before its failures are refused. */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;
/** Addresses tracked at once: the map's bound, whatever the number of addresses failing. */
export const MAX_ADDRESSES = 10_000;

interface Window {
  readonly startedAt: number;
  failures: number;
}

/**
 * What one client is counted as: an IPv4 address (IPv4-mapped IPv6 included), or the /64 of
 * an IPv6 address, the block one host usually gets (RFC 6177): a client must not mint fresh
 * addresses for free guesses.
 */
export function limiterKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const front = head ? head.split(':') : [];
  const back = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Counts failed authentications per client ({@link limiterKey}) in fixed one-minute windows:
 * after MAX_FAILURES a client's further failures are refused (429) until its window is over,
 * so guessing tokens costs a minute per ten guesses. The caller checks a token first and asks
 * here only when it failed: a valid token is never refused, whoever failed from its address
 * (an agent behind the same NAT as an attacker keeps its heartbeats). In memory: one api
 * process, and a restart forgives; at most MAX_ADDRESSES windows, the oldest forgotten first.
 */
export class AuthRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds the address must still wait before a failure is answered 401 again, or 0. */
  retryAfter(address: string): number {
    const window = this.current(limiterKey(address));
    if (!window || window.failures < MAX_FAILURES) return 0;
    return Math.max(1, Math.ceil((window.startedAt + WINDOW_MS - this.now()) / 1000));
  }

  fail(address: string): void {
    const key = limiterKey(address);
    const window = this.current(key);
    if (window) window.failures++;
    else {
      if (this.windows.size >= MAX_ADDRESSES) this.sweep();
      this.windows.set(key, { startedAt: this.now(), failures: 1 });
    }
  }

  private current(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window && this.now() - window.startedAt >= WINDOW_MS) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  /**
   * Forgets finished windows; when every tracked address is still within its window, forgets
   * the oldest ones (a Map iterates in insertion order, and a window is inserted when it starts).
   */
  private sweep(): void {
    const now = this.now();
    for (const [key, window] of this.windows) if (now - window.startedAt >= WINDOW_MS) this.windows.delete(key);
    for (const key of this.windows.keys()) {
      if (this.windows.size < MAX_ADDRESSES * 0.9) break;
      this.windows.delete(key);
    }
  }
}
