/**
 * Asking the scheduler for a pass from another process. The scheduler runs a pass on a timer
 * (`PAAS_RECONCILE_MS`) and at once on changes made in its own process; a build worker in
 * a process of its own (`main.js worker`) that has made a release deploying publishes here, so
 * the deploy starts now rather than on the next tick.
 */
import type { Redis } from 'ioredis';

/** The Redis channel every api process's scheduler listens on. */
export const SCHEDULER_KICK_CHANNEL = 'paas:scheduler:kick';

/** Publishes a kick; best effort (the timer catches up), so a failure is the caller's to ignore. */
export async function askForPass(redis: Redis): Promise<void> {
  await redis.publish(SCHEDULER_KICK_CHANNEL, 'pass');
}
