/**
 * Asking the scheduler leader for work from another process. The scheduler runs a pass on a
 * timer (`PAAS_RECONCILE_MS`) and at once on changes made in its own process; a build worker in
 * a process of its own (`main.js worker`) that has made a release deploying publishes here, so
 * the deploy starts now rather than on the next tick. The leader's ACME issuer looks on its own
 * timer (`PAAS_ACME_INTERVAL_MS`) and at once when an api that does not lead asks here (auto
 * certificates enabled, a domain added to such an app). A round is not a pass: neither asks for
 * the other (passes run at every burst of heartbeats; a round reads every auto domain).
 */
import type { Redis } from 'ioredis';

/** The Redis channel every api process's scheduler listens on; each message says what it asks for. */
export const SCHEDULER_KICK_CHANNEL = 'paas:scheduler:kick';

/** A pass (and what any other message asks for: an older process's kick). */
export const KICK_PASS = 'pass';
/** A round of the ACME issuer (apps/api certs/acme-issuer.ts). */
export const KICK_ACME = 'acme';

/** Publishes a kick; best effort (the timer catches up), so a failure is the caller's to ignore. */
export async function askForPass(redis: Redis): Promise<void> {
  await redis.publish(SCHEDULER_KICK_CHANNEL, KICK_PASS);
}

/** Asks the leader's ACME issuer for a round; best effort as askForPass. */
export async function askForAcmeRound(redis: Redis): Promise<void> {
  await redis.publish(SCHEDULER_KICK_CHANNEL, KICK_ACME);
}
