import { ConfigError, type Env, caFileSetting } from '@paas/config';

/**
 * Where automatic certificates come from (`paas certs:auto`); from the api's environment (see
 * config.ts). Without a directory no app may turn automatic certificates on (422 naming
 * PAAS_ACME_DIRECTORY): the platform never picks a certificate authority by itself.
 */
export interface AcmeSettings {
  /**
   * `PAAS_ACME_DIRECTORY`: the ACME directory URL, e.g. Let's Encrypt's staging
   * https://acme-staging-v02.api.letsencrypt.org/directory or production
   * https://acme-v02.api.letsencrypt.org/directory; null: automatic certificates are off.
   */
  readonly directoryUrl: string | null;
  /** `PAAS_ACME_EMAIL`: the account's contact (expiry notices), optional. */
  readonly email: string | null;
  /** `PAAS_ACME_CA_FILE`: the only CA trusted for the directory's own HTTPS (pebble's); Node's roots when unset. */
  readonly caPem: string | null;
  /** `PAAS_ACME_INTERVAL_MS` (default 5000): how often the leader looks for domains due a certificate. */
  readonly intervalMs: number;
}

export function acmeSettings(env: Env): AcmeSettings {
  return {
    directoryUrl: directoryUrl(env),
    email: email(env),
    caPem: caFileSetting(env, 'PAAS_ACME_CA_FILE'),
    intervalMs: interval(env),
  };
}

function directoryUrl(env: Env): string | null {
  const value = env['PAAS_ACME_DIRECTORY'] ?? '';
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PAAS_ACME_DIRECTORY', value, 'not a URL (expected https://HOST/directory)');
  }
  // RFC 8555 6.1: ACME runs over HTTPS only
  if (url.protocol !== 'https:') throw new ConfigError('PAAS_ACME_DIRECTORY', value, 'must be an https:// URL');
  return value;
}

function email(env: Env): string | null {
  const value = env['PAAS_ACME_EMAIL'] ?? '';
  if (value === '') return null;
  if (!/^[^\s@<>:,]+@[^\s@<>:,]+\.[^\s@<>:,]+$/.test(value))
    throw new ConfigError('PAAS_ACME_EMAIL', value, 'not an e-mail address (expected name@example.com)');
  return value;
}

function interval(env: Env): number {
  const value = env['PAAS_ACME_INTERVAL_MS'] ?? '';
  if (value === '') return 5_000;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 100)
    throw new ConfigError('PAAS_ACME_INTERVAL_MS', value, 'expected milliseconds, at least 100');
  return Number(value);
}
