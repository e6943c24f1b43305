/**
 * TLS of a control-plane service that listens off loopback (the api, the registry): one
 * recipe for all of them, so they are configured, named and renewed the same way.
 *
 * `PAAS_<SERVICE>_TLS_CERT` + `_KEY` give the operator's certificate; otherwise the service
 * presents a leaf of the platform CA (platform-ca.ts) naming its listen address (every
 * interface's address for 0.0.0.0 / ::), this host's names and `PAAS_<SERVICE>_TLS_SANS`.
 * On loopback the service stays plain HTTP: only processes of this machine reach loopback,
 * and instances, builds and one-off runs cannot (DESIGN.md, "The trust boundary").
 *
 * A long-running service picks up a renewed leaf (two thirds of its life gone) without a
 * restart: `keepRenewed` looks now and then and replaces the server's secure context.
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { ConfigError, type Env, isLoopbackHost, platformTlsDirectory } from '@paas/config';
import { type KeyPair, type PlatformCa, ensureLeaf, ensurePlatformCa, loadKeyPair } from './platform-ca';

/** How a service serves TLS off loopback: a leaf of the platform CA, or the operator's pair. */
export type ServiceTls =
  | { readonly source: 'platform-ca'; readonly sans: readonly string[] }
  | { readonly source: 'operator'; readonly certFile: string; readonly keyFile: string };

/** The services that serve TLS, by the prefix of their settings. */
export type TlsSettingsPrefix = 'PAAS_API' | 'PAAS_REGISTRY';

/**
 * `<prefix>_TLS_CERT`, `_KEY` and `_SANS` read and checked (always, so a typo fails on
 * loopback too); null when `listenHost` is a loopback address (plain HTTP).
 */
export function serviceTlsSettings(env: Env, prefix: TlsSettingsPrefix, listenHost: string): ServiceTls | null {
  const certFile = env[`${prefix}_TLS_CERT`] ?? '';
  const keyFile = env[`${prefix}_TLS_KEY`] ?? '';
  if (certFile !== '' && keyFile === '')
    throw new ConfigError(`${prefix}_TLS_KEY`, '', `required with ${prefix}_TLS_CERT`);
  if (keyFile !== '' && certFile === '')
    throw new ConfigError(`${prefix}_TLS_CERT`, '', `required with ${prefix}_TLS_KEY`);
  const given = env[`${prefix}_TLS_SANS`] ?? '';
  const sans = given
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const dns = /^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
  for (const name of sans) {
    if (isIP(name) === 0 && !dns.test(name))
      throw new ConfigError(
        `${prefix}_TLS_SANS`,
        given,
        `${JSON.stringify(name)} is neither a DNS name nor an IP address`,
      );
  }
  if (isLoopbackHost(listenHost)) return null;
  if (certFile !== '') return { source: 'operator', certFile: resolve(certFile), keyFile: resolve(keyFile) };
  return { source: 'platform-ca', sans };
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** DNS names and addresses a service's leaf names: where clients may reach it. */
export function serviceSans(listenHost: string, extra: readonly string[]): string[] {
  const hosts = WILDCARDS.has(listenHost)
    ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')))
    : [listenHost];
  return [...new Set([...hosts, hostname().toLowerCase(), 'localhost', '127.0.0.1', '::1', ...extra])];
}

export interface ServiceTlsCredentials {
  readonly ca: PlatformCa;
  /** What the server presents; null: plain HTTP (loopback). */
  readonly serving: KeyPair | null;
  /** The leaf again, re-issued when due; the same object when nothing changed. */
  refresh(): Promise<KeyPair | null>;
}

/** What a service names itself by: the leaf's file (`<service>.pem`), its CN and its settings. */
export interface ServiceIdentity {
  /** `api`, `registry`: the leaf is `$PAAS_ROOT/platform/tls/<service>.pem`. */
  readonly service: string;
  readonly prefix: TlsSettingsPrefix;
}

/**
 * The platform CA under `root` (made on the first start of any service), and what `service`
 * presents listening on `listenHost` with `tls` (from serviceTlsSettings).
 */
export async function serviceTlsCredentials(
  root: string,
  identity: ServiceIdentity,
  listenHost: string,
  tls: ServiceTls | null,
): Promise<ServiceTlsCredentials> {
  const dir = platformTlsDirectory(root);
  const ca = await ensurePlatformCa(dir);
  if (tls === null) return { ca, serving: null, refresh: () => Promise.resolve(null) };
  if (tls.source === 'operator') {
    const names = { cert: `${identity.prefix}_TLS_CERT`, key: `${identity.prefix}_TLS_KEY` };
    const pair = loadKeyPair(tls.certFile, tls.keyFile, names);
    return { ca, serving: pair, refresh: () => Promise.resolve(pair) };
  }
  const request = { commonName: `paas ${identity.service}`, sans: serviceSans(listenHost, tls.sans) };
  let current = await ensureLeaf(dir, ca, identity.service, request);
  return {
    ca,
    serving: current,
    refresh: async () => {
      const next = await ensureLeaf(dir, ca, identity.service, request);
      if (next.cert !== current.cert) current = next;
      return current;
    },
  };
}

/** How often a running service looks whether its leaf is due for renewal. */
export const TLS_REFRESH_MS = 6 * 3_600_000;

/**
 * Swaps a renewed leaf into `server` every `intervalMs` until the server closes; failures
 * are reported through `warn` and the current certificate kept.
 */
export function keepRenewed(
  server: TlsServer,
  credentials: ServiceTlsCredentials,
  warn: (message: string) => void,
  intervalMs = TLS_REFRESH_MS,
): void {
  let serving = credentials.serving;
  if (serving === null) return;
  const timer = setInterval(() => {
    credentials.refresh().then(
      (next) => {
        if (next && next !== serving) server.setSecureContext({ cert: next.cert, key: next.key });
        if (next) serving = next;
      },
      (err: unknown) => warn(`renewing the TLS certificate: ${(err as Error).message}`),
    );
  }, intervalMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));
}
