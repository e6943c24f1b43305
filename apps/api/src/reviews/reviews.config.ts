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
