/**
 * When to obtain a domain's certificate from ACME, as pure functions of the clock (the leader
 * loop that calls them, and obtainCertificate that acts, live elsewhere).
 *
 * - Renew at two thirds of a certificate's lifetime, as certbot and Caddy do: 60 of Let's
 *   Encrypt's 90 days, leaving a month of retries before it expires. The platform CA's leaves
 *   (tls/platform-ca.ts ensureLeaf) follow the same rule, from here.
 * - After a failure, wait 1 minute, doubling per consecutive failure up to 6 hours, with
 *   "equal jitter" (backoff.ts): replicas and domains that failed together do not retry together.
 *   Let's Encrypt's failed-validation limit (5 per hour per account and name) is never hit
 *   after the third failure.
 */
import { backoffDelay } from '../backoff';

export const RENEW_AT_FRACTION = 2 / 3;
export const BACKOFF_FIRST_MS = 60_000;
export const BACKOFF_CAP_MS = 6 * 3600_000;

/** When a certificate valid from `notBefore` to `notAfter` is to be replaced. */
export function renewAt(notBefore: Date, notAfter: Date): Date {
  const life = notAfter.getTime() - notBefore.getTime();
  if (!(life > 0))
    throw new RangeError(
      `certificate lifetime is not positive: ${notBefore.toISOString()} .. ${notAfter.toISOString()}`,
    );
  return new Date(notBefore.getTime() + Math.floor(life * RENEW_AT_FRACTION));
}

/**
 * When to try again after `failures` consecutive failures (1 after the first), the last one at
 * `now`. `random` is in [0, 1) (Math.random; a spec passes its own).
 */
export function nextAttempt(failures: number, now: Date, random: () => number = Math.random): Date {
  return new Date(now.getTime() + backoffDelay(failures, { firstMs: BACKOFF_FIRST_MS, capMs: BACKOFF_CAP_MS }, random));
}

/** A certificate a domain has now (obtained or uploaded). */
export interface HeldCertificate {
  /** The names it certifies (subjectAltName DNS entries), maybe wildcards. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Why a domain needs a certificate from ACME now. */
export type CertificateNeed = 'missing' | 'uncovered' | 'expired' | 'renewal-due';

/**
 * Whether `domain`, holding `current`, needs a certificate at `now`, and why; null when what it
 * holds is good until its renewal time.
 */
export function needsCertificate(
  domain: string,
  current: HeldCertificate | undefined,
  now: Date,
): CertificateNeed | null {
  if (!current) return 'missing';
  if (!current.names.some((name) => certifies(name, domain))) return 'uncovered';
  if (now.getTime() >= current.notAfter.getTime()) return 'expired';
  if (now.getTime() >= renewAt(current.notBefore, current.notAfter).getTime()) return 'renewal-due';
  return null;
}

/** RFC 6125 6.4.3 as browsers apply it: names match without case, `*` stands for one whole left-most label. */
function certifies(name: string, domain: string): boolean {
  const [n, d] = [name.toLowerCase(), domain.toLowerCase()];
  if (!n.startsWith('*.')) return n === d;
  const dot = d.indexOf('.');
  return dot > 0 && d.slice(dot) === n.slice(1);
}
