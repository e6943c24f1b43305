/**
 * The api's TLS: every start makes sure the platform CA exists (the first start makes it,
 * platform-ca.ts), and an api listening off loopback serves HTTPS with either the operator's
 * certificate or a leaf of that CA naming the listen address, this host's names and
 * PAAS_API_TLS_SANS. A long-running api picks up a renewed leaf (two thirds of its life
 * gone) without a restart: `refresh` is called now and then and the server's secure
 * context replaced.
 */
import { hostname, networkInterfaces } from 'node:os';
import { platformTlsDirectory } from '@paas/config';
import { type KeyPair, type PlatformCa, ensureLeaf, ensurePlatformCa, loadKeyPair } from '@paas/platform';
import type { ApiConfig, ApiTls } from './config';

export interface ApiTlsCredentials {
  readonly ca: PlatformCa;
  /** What the server presents; null: plain HTTP (loopback). */
  readonly serving: KeyPair | null;
  /** The leaf again, re-issued when due; the same object when nothing changed. */
  refresh(): Promise<KeyPair | null>;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** DNS names and addresses the api's leaf names: where clients may reach it. */
export function apiSans(listenHost: string, extra: readonly string[]): string[] {
  const hosts = WILDCARDS.has(listenHost)
    ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')))
    : [listenHost];
  return [...new Set([...hosts, hostname().toLowerCase(), 'localhost', '127.0.0.1', '::1', ...extra])];
}

export async function apiTlsCredentials(
  config: Pick<ApiConfig, 'paths' | 'listen' | 'tls'>,
): Promise<ApiTlsCredentials> {
  const dir = platformTlsDirectory(config.paths.root);
  const ca = await ensurePlatformCa(dir);
  const tls: ApiTls | null = config.tls;
  if (tls === null) return { ca, serving: null, refresh: () => Promise.resolve(null) };
  if (tls.source === 'operator') {
    const pair = loadKeyPair(tls.certFile, tls.keyFile, { cert: 'PAAS_API_TLS_CERT', key: 'PAAS_API_TLS_KEY' });
    return { ca, serving: pair, refresh: () => Promise.resolve(pair) };
  }
  const request = { commonName: 'paas api', sans: apiSans(config.listen.host, tls.sans) };
  let current = await ensureLeaf(dir, ca, 'api', request);
  return {
    ca,
    serving: current,
    refresh: async () => {
      const next = await ensureLeaf(dir, ca, 'api', request);
      if (next.cert !== current.cert) current = next;
      return current;
    },
  };
}
