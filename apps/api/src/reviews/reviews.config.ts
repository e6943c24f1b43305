import { ConfigError, type Env } from '@paas/config';
import { DURATION_RULE, parseDuration } from '@paas/platform';

const DAY_MS = 86_400_000;
/** PAAS_REVIEW_APPS_MAX's default. */
export const DEFAULT_REVIEW_APPS_MAX = 20;

/**
 * `PAAS_REVIEW_APPS_TTL` (5d): a review app without a push for this long is removed by the
 * scheduler's leader; `0` keeps them until their branch is deleted. A number of days, or
 * DURATION_RULE (`5d`, `12h`, `30m`).
 */
export function reviewAppsTtl(env: Env): number {
  const value = (env['PAAS_REVIEW_APPS_TTL'] ?? '').trim();
  if (value === '') return 5 * DAY_MS;
  if (/^\d{1,6}$/.test(value)) return Number(value) * DAY_MS;
  const ms = parseDuration(value);
  if (ms === null)
    throw new ConfigError('PAAS_REVIEW_APPS_TTL', value, `expected 0 (off), a number of days or ${DURATION_RULE}`);
  return ms;
}

/**
 * `PAAS_REVIEW_APPS_MAX` (20): how many review apps one app may have; a push of a branch that
 * would make one more is refused. `0` turns review apps off.
 */
export function reviewAppsMax(env: Env): number {
  const value = (env['PAAS_REVIEW_APPS_MAX'] ?? '').trim();
  if (value === '') return DEFAULT_REVIEW_APPS_MAX;
  if (!/^\d{1,4}$/.test(value))
    throw new ConfigError('PAAS_REVIEW_APPS_MAX', value, 'expected a whole number, 0 to 9999');
  return Number(value);
}

/** How long a review app's web waits idle before it sleeps, by default (PAAS_REVIEW_APPS_IDLE). */
export const DEFAULT_REVIEW_APPS_IDLE = '30m';

/**
 * `PAAS_REVIEW_APPS_IDLE` (30m): a review app's web is autoscaled between 0 and 1 from its
 * creation, so it sleeps after this long without a request and its next request wakes it;
 * `0` keeps review apps awake. DURATION_RULE (`30m`, `2h`).
 */
export function reviewAppsIdle(env: Env): number {
  const value = (env['PAAS_REVIEW_APPS_IDLE'] ?? '').trim() || DEFAULT_REVIEW_APPS_IDLE;
  if (value === '0') return 0;
  const ms = parseDuration(value);
  if (ms === null || ms < 1000)
    throw new ConfigError('PAAS_REVIEW_APPS_IDLE', value, `expected 0 (never sleep) or ${DURATION_RULE}, 1s or more`);
  return ms;
}
