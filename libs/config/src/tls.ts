/**
 * The client's half of the platform's TLS: which CA a component trusts for the control
 * plane, and what to tell the user when a TLS handshake fails. The CA itself (making it,
 * issuing leaves) lives in @paas/platform (tls/platform-ca.ts); this half only reads its
 * certificate, so the CLI and the agent do not load a certificate library.
 *
 * The trusted CA is `PAAS_CA_FILE`, else `$PAAS_ROOT/platform/tls/ca.crt` when it exists (a
 * component on the control plane's machine), else none: Node's own roots, as for any site
 * (an operator's certificate from a public CA).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError, type Env, formatAddress, listenAddress, paths } from './env';

/** `$PAAS_ROOT/platform/tls`: the platform CA (ca.crt, ca.key) and the services' leaves. */
export function platformTlsDirectory(paasRoot: string): string {
  return join(paasRoot, 'platform', 'tls');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * 127.0.0.0/8, ::1 (in any spelling, v4-mapped too) and localhost: only processes of this
 * machine reach them. `0.0.0.0` and `::` are not: they listen on every interface.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The local api's base URL from PAAS_API_ADDR: `http://` on loopback, `https://` elsewhere
 * (the api serves TLS there); an all-interfaces address is reached on loopback.
 */
export function localApiUrl(env: Env): string {
  const addr = listenAddress(env, 'PAAS_API_ADDR');
  const scheme = isLoopbackHost(addr.host) ? 'http' : 'https';
  const host = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  return `${scheme}://${formatAddress({ host, port: addr.port })}`;
}

/** A CA certificate a client trusts, with the file it came from (for messages and git). */
export interface TrustedCa {
  readonly file: string;
  readonly pem: string;
}

/**
 * The CA certificate (PEM) in the file the setting `variable` names, read and checked at start
 * (a ConfigError naming the setting when it cannot be read or is no certificate); null when
 * the setting is unset or empty.
 */
export function caFileSetting(env: Env, variable: string): string | null {
  const file = env[variable] ?? '';
  if (file === '') return null;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return checkedCa(pem, variable, file);
}

/** The CA clients of the control plane trust; null when none is configured or present. */
export function trustedCa(env: Env): TrustedCa | null {
  const given = caFileSetting(env, 'PAAS_CA_FILE');
  if (given !== null) return { file: env['PAAS_CA_FILE'] as string, pem: given };
  const file = join(platformTlsDirectory(paths(env).root), 'ca.crt');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch {
    return null; // no platform CA on this machine (or not readable by this user)
  }
  return { file, pem: checkedCa(pem, file, file) };
}

function checkedCa(pem: string, variable: string, value: string): string {
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(variable, value, 'not a PEM certificate (no BEGIN CERTIFICATE line)');
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(variable, value, `not a valid PEM certificate (${(err as Error).message})`);
  }
  return pem;
}

const CERTIFICATE_NOT_TRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * What a TLS failure of a connection to the control plane means, in words, or undefined
 * when `code` (a Node error code) is not a TLS failure. `sans` says where a missing name is
 * added (the setting of the service that was called).
 */
export function tlsFailureReason(
  code: string | undefined,
  ca: TrustedCa | null,
  sans = 'PAAS_API_TLS_SANS on the api',
): string | undefined {
  if (code === undefined) return undefined;
  const trusting = ca ? `the CA in ${ca.file}` : "Node's default CAs (no PAAS_CA_FILE given)";
  if (CERTIFICATE_NOT_TRUSTED.has(code))
    return `its TLS certificate is not signed by a trusted CA (${code}; trusting ${trusting}); set PAAS_CA_FILE to the platform's ca.crt`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `its TLS certificate does not name this host (${code}); add the name to ${sans}`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `its TLS certificate is not valid now (${code})`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO')
    return `TLS failed (${code}): does it speak http rather than https?`;
  return undefined;
}
