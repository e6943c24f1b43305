import { ConfigError, type Env, caFileSetting } from '@paas/config';

/**
 * The operator's settings of log drains (`paas drains:add`), from the api's environment (see
 * config.ts).
 */
export interface DrainSettings {
  /**
   * `PAAS_DRAINS_ALLOW_PRIVATE` (0): 1 lets drains reach loopback, link-local, the control
   * plane's own addresses and the nodes', which are refused otherwise (drains/drain-url.ts);
   * never the containers' bridge (PAAS_SUBNET). For tests and a single machine whose log
   * receiver runs on the host, never with untrusted tenants.
   */
  readonly allowPrivate: boolean;
  /** `PAAS_DRAINS_CA_FILE`: a CA (PEM) TLS drains trust besides Node's roots (a private PKI, tests). */
  readonly caPem: string | null;
  /** `PAAS_DRAINS_MAX_PER_APP` (5): how many drains an app may have. */
  readonly maxPerApp: number;
  /** `PAAS_DRAINS_BATCH_MS` (1000): how long lines gather before a batch goes (at most 500 lines a batch). */
  readonly batchMs: number;
}

export function drainSettings(env: Env): DrainSettings {
  return {
    allowPrivate: flag(env, 'PAAS_DRAINS_ALLOW_PRIVATE'),
    caPem: caFileSetting(env, 'PAAS_DRAINS_CA_FILE'),
    maxPerApp: count(env, 'PAAS_DRAINS_MAX_PER_APP', 5, 0, 1000),
    batchMs: count(env, 'PAAS_DRAINS_BATCH_MS', 1000, 10, 60_000),
  };
}

function flag(env: Env, name: string): boolean {
  const value = (env[name] ?? '').toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(value))
    throw new ConfigError(name, value, 'expected 1, 0, true or false');
  return value === '1' || value === 'true';
}

function count(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name] ?? '';
  if (value === '') return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new ConfigError(name, value, `expected a whole number, ${min}-${max}`);
  return Number(value);
}
