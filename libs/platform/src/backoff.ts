/**
 * The platform's back-off after consecutive failures: a step doubling from `firstMs` up to
 * `capMs`, with "equal jitter" (a random point in the second half of the step), so that peers
 * that failed together do not retry together and a wait never shrinks below half its step.
 * The ACME renewal policy (certs/acme-policy.ts), the log drains and the agent (its output to the
 * control plane, its event stream) use it.
 */
export interface Backoff {
  readonly firstMs: number;
  readonly capMs: number;
}

/**
 * How long to wait after `failures` consecutive failures (1 after the first). `random` is in
 * [0, 1) (Math.random; a spec passes its own).
 */
export function backoffDelay(
  failures: number,
  { firstMs, capMs }: Backoff,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(failures) || failures < 1)
    throw new RangeError(`failures must be a positive integer, not ${failures}`);
  const step = Math.min(capMs, firstMs * 2 ** Math.min(failures - 1, 30));
  return step / 2 + Math.floor((step / 2) * Math.min(Math.max(random(), 0), 1));
}
