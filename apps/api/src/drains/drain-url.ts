/**
 * What a log drain may point at (#25). The api itself sends the traffic, and drains are added
 * with app tokens, which the platform does not trust (DESIGN.md "The trust boundary"): a drain
 * to 127.0.0.1:<api port>, to the metadata service at 169.254.169.254 or to the database would
 * make the control plane talk to itself for a tenant. So a drain never reaches loopback,
 * 0.0.0.0/8, link-local, multicast or reserved addresses, the control plane's own addresses
 * (PAAS_PROTECTED_CIDRS and the database, Redis and registry the api knows) nor this machine's
 * interfaces, nor the registered nodes (their agents, routers and add-on ports), unless the
 * operator allows private targets (PAAS_DRAINS_ALLOW_PRIVATE: tests and single-machine setups
 * whose receiver runs on the host). The containers' bridge (PAAS_SUBNET), where other tenants'
 * instances and add-ons answer, is refused whatever that says.
 *
 * Checked twice: a literal address when the drain is added (a 400 naming `url`), and every
 * address a host name resolves to when a connection is made (`drainLookup`), so a name that
 * resolves to a refused address later (DNS rebinding) reaches nothing either.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';

export type DrainScheme = 'https' | 'http' | 'syslog' | 'syslog+tls';

/** A drain's URL, parsed and normalised. */
export interface DrainTarget {
  /** The normalised URL, as stored (`url` of the drain). */
  readonly url: string;
  readonly scheme: DrainScheme;
  /** Host name or address, without IPv6 brackets, lower-case. */
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** A drain URL that is refused; `message` names the url and why, for a 400 on `url`. */
export class DrainUrlError extends Error {}

export const DRAIN_URL_MAX = 1024;

const SCHEMES: Record<string, DrainScheme> = {
  'https:': 'https',
  'http:': 'http',
  'syslog:': 'syslog',
  'syslog+tls:': 'syslog+tls',
};

const EXAMPLES = 'https://user:pass@logs.example.com/drain, syslog+tls://logs.example.com:6514 or syslog://HOST:PORT';

/** One DNS label; the last label of a name has a letter, so `127.1` or `2130706433` are not names. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses a drain URL: `https://` or `http://` (any path and query, user and password sent as
 * Basic auth), `syslog://HOST:PORT` (TCP) or `syslog+tls://HOST:PORT`, Heroku's forms. Throws
 * DrainUrlError saying what is wrong. Addresses are not checked here: `refusedTarget`.
 */
export function parseDrainUrl(text: string): DrainTarget {
  if (text.length === 0) throw new DrainUrlError(`url is empty: expected a URL such as ${EXAMPLES}`);
  if (text.length > DRAIN_URL_MAX) throw new DrainUrlError(`url is longer than ${DRAIN_URL_MAX} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(text)) throw new DrainUrlError('url contains white space or control characters');
  const scheme = SCHEMES[/^[a-z][a-z0-9+.-]*:/i.exec(text)?.[0].toLowerCase() ?? ''];
  if (!scheme) {
    throw new DrainUrlError(
      `url '${text}' has an unsupported scheme: expected https://, http://, syslog+tls:// or syslog://`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DrainUrlError(`url '${text}' is not a valid URL (port 1-65535): expected one such as ${EXAMPLES}`);
  }
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new DrainUrlError(`url '${text}' has no host`);
  if (isIP(host) === 0) {
    const labels = host.split('.');
    if (host.length > 253 || !labels.every((l) => LABEL.test(l)) || !/[a-z]/.test(labels.at(-1) ?? '')) {
      throw new DrainUrlError(`url '${text}': '${host}' is not a host name or an IP address`);
    }
  }
  if (url.hash !== '' || text.includes('#')) throw new DrainUrlError(`url '${text}' has a fragment (#...)`);
  const syslog = scheme === 'syslog' || scheme === 'syslog+tls';
  if (syslog) {
    if (url.port === '') throw new DrainUrlError(`url '${text}' has no port: syslog drains are ${scheme}://HOST:PORT`);
    if (url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/') || url.search)
      throw new DrainUrlError(`url '${text}': syslog drains are ${scheme}://HOST:PORT, with no user, path or query`);
  }
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  if (!(port >= 1 && port <= 65535)) throw new DrainUrlError(`url '${text}' has port ${port}: expected 1-65535`);
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const normalised = syslog ? `${scheme}://${bracketed}:${port}` : url.href;
  // percent-encoding may lengthen it: the stored form must fit too
  if (normalised.length > DRAIN_URL_MAX) throw new DrainUrlError(`url is longer than ${DRAIN_URL_MAX} characters`);
  return { url: normalised, scheme, host, port, tls: scheme === 'https' || scheme === 'syslog+tls' };
}

/** The URL as users see it listed: any password replaced by `***`. */
export function maskDrainUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '***';
    return url.href;
  } catch {
    return text;
  }
}

/** Who a drain may not reach: the operator's settings (drains.config.ts). */
export interface DrainTargetPolicy {
  /** PAAS_DRAINS_ALLOW_PRIVATE: every address is allowed (tests, a receiver on the host). */
  readonly allowPrivate: boolean;
  /** IPv4 addresses or CIDRs of the control plane (PAAS_PROTECTED_CIDRS and what the api knows). */
  readonly protectedCidrs: readonly string[];
  /**
   * The containers' bridge (PAAS_SUBNET): other tenants' instances and add-ons. Refused even
   * with `allowPrivate`, which is for receivers on the host, never for containers.
   */
  readonly bridgeCidrs: readonly string[];
  /**
   * The registered nodes' addresses (`address`, `serviceAddress`: their agents, routers and
   * add-on ports), as known now; refused but with `allowPrivate`.
   */
  readonly nodeAddresses?: () => readonly string[];
}

const ALWAYS_REFUSED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  ALWAYS_REFUSED.addSubnet(net, prefix, 'ipv4');
}
ALWAYS_REFUSED.addAddress('::', 'ipv6');
ALWAYS_REFUSED.addAddress('::1', 'ipv6');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6');

/** `::ffff:a.b.c.d` (and its hex spelling) as the IPv4 address it carries, else undefined. */
function mappedIPv4(ip: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return undefined;
  const [hi, lo] = [parseInt(hex[1] as string, 16), parseInt(hex[2] as string, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/**
 * Why a drain may not reach the address `ip`, or null when it may. `localhost` and its
 * subdomains count as loopback whatever they resolve to.
 */
export function refusedTarget(hostOrIp: string, policy: DrainTargetPolicy): string | null {
  const host = hostOrIp.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const family = isIP(host);
  const ip = (family === 6 && mappedIPv4(host)) || host;
  const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  if (type === 'ipv4' && family !== 0 && cidrList(policy.bridgeCidrs).check(ip, 'ipv4'))
    return `${host} is on the containers' network (PAAS_SUBNET)`;
  if (policy.allowPrivate) return null;
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this machine (loopback)`;
  // a node registered by name is refused by that name; its addresses, as any name's, when connecting
  if ((policy.nodeAddresses?.() ?? []).some((a) => nodeHost(a) === ip))
    return `${host} is an address of one of the platform's nodes`;
  if (family === 0) return null; // a name: its addresses are checked when connecting (drainLookup)
  if (ALWAYS_REFUSED.check(ip, type)) return `${host} is a loopback, link-local, multicast or reserved address`;
  if (type === 'ipv4' && cidrList(policy.protectedCidrs).check(ip, 'ipv4'))
    return `${host} is an address of the platform's control plane (PAAS_PROTECTED_CIDRS)`;
  if (ownAddresses().has(ip)) return `${host} is an address of the platform's own machine`;
  return null;
}

/** A node's address as registered (`10.0.0.2`, `node-1.internal`, maybe with `:port`), its host part, lower-case. */
function nodeHost(address: string): string {
  const text = address.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1] as string;
  // one colon: `host:port`; more: a bare IPv6 address
  return text.split(':').length === 2 ? (text.split(':')[0] as string) : text;
}

const cidrLists = new WeakMap<readonly string[], BlockList>();

function cidrList(cidrs: readonly string[]): BlockList {
  let list = cidrLists.get(cidrs);
  if (!list) {
    list = new BlockList();
    for (const cidr of cidrs) {
      const [net, prefix] = cidr.split('/');
      if (net && isIP(net) === 4) list.addSubnet(net, prefix === undefined ? 32 : Number(prefix), 'ipv4');
    }
    cidrLists.set(cidrs, list);
  }
  return list;
}

/** This machine's interface addresses, now (they may change: read on every check). */
function ownAddresses(): Set<string> {
  return new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address.replace(/%.*$/, '') ?? ''),
  );
}

/** The error a connection fails with when every address of its host is refused. */
export class RefusedTargetError extends Error {
  readonly code = 'EDRAINREFUSED';
}

/**
 * A `lookup` for net/tls/http that resolves as usual, then keeps only the addresses a drain
 * may reach; when none is left the connection fails with RefusedTargetError saying why.
 */
export function drainLookup(policy: DrainTargetPolicy, resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const allowed = addresses.filter((a) => refusedTarget(a.address, policy) === null);
      if (allowed.length === 0) {
        const first = addresses[0];
        const why = first ? (refusedTarget(first.address, policy) ?? '') : 'it has no address';
        return callback(new RefusedTargetError(`drain host ${hostname} may not be reached: ${why}`), '', 0);
      }
      if ((options as { all?: boolean }).all) {
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      }
      const first = allowed[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
