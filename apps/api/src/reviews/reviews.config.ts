import { ConfigError, type Env } from '@paas/config';

const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/**
 * `PAAS_REVIEW_APPS_TTL` (5d): a review app without a push for this long is removed by the
 * scheduler's leader; `0` keeps them until their branch is deleted. A number of days, or a
 * number with `d`, `h`, `m` or `s`.
 */
export function reviewAppsTtl(env: Env): number {
  const value = (env['PAAS_REVIEW_APPS_TTL'] ?? '').trim();
  if (value === '') return 5 * UNITS.d;
  const match = /^(\d{1,6})([dhms]?)$/.exec(value);
  if (!match) throw new ConfigError('PAAS_REVIEW_APPS_TTL', value, 'expected 0 (off) or a duration: 5d, 12h, 30m, 90s');
  return Number(match[1]) * UNITS[(match[2] || 'd') as keyof typeof UNITS];
}
