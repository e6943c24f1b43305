/**
 * IPv4 addresses and subnets as numbers, which is all the IPAM needs: the bridge takes the
 * first host address as gateway (Docker's and podman's convention), containers the rest.
 */
import { PaasError } from '@paas/errors';

export class NetworkConfigError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

export interface Subnet {
  /** `10.88.0.0/16`, normalised. */
  readonly cidr: string;
  readonly network: number;
  readonly prefix: number;
  /** The bridge's address (network + 1). */
  readonly gateway: string;
  /** The first and last addresses containers may get. */
  readonly first: number;
  readonly last: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `a.b.c.d` to a number, or undefined when it is not a dotted quad. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * `PAAS_SUBNET`: an IPv4 CIDR with room for a gateway and at least one container (a /30 at
 * most). Host bits are cleared, as `ip route` does with `10.88.1.0/16`.
 */
export function parseSubnet(text: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const base = m?.[1] !== undefined ? parseIPv4(m[1]) : undefined;
  const prefix = Number(m?.[2]);
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new NetworkConfigError(`invalid subnet ${JSON.stringify(text)}: expected an IPv4 CIDR from /8 to /30`);
  }
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  return {
    cidr: `${formatIPv4(network)}/${prefix}`,
    network,
    prefix,
    gateway: formatIPv4(network + 1),
    first: network + 2,
    last: network + size - 2,
  };
}

/**
 * An address or CIDR (`10.0.0.5`, `10.0.0.0/8`) in canonical form (`10.0.0.5/32`,
 * `10.0.0.0/8`), for iptables `-d`; host bits are cleared, as iptables would.
 */
export function parseCidr(text: string): string {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(text.trim());
  const ip = parseIPv4(m?.[1] ?? '');
  const prefix = m?.[2] === undefined ? 32 : Number(m[2]);
  if (!m || ip === undefined || prefix > 32) {
    throw new NetworkConfigError(`invalid address ${JSON.stringify(text)}: expected an IPv4 address or A.B.C.D/N`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${formatIPv4((ip & mask) >>> 0)}/${prefix}`;
}

export function contains(subnet: Subnet, ip: number): boolean {
  return ip >= subnet.first && ip <= subnet.last;
}

/** Docker derives a container's MAC from its IP (02:42 + the address): stable across restarts. */
export function macFor(ip: string): string {
  const n = parseIPv4(ip) ?? 0;
  return [
    '02',
    '42',
    ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')),
  ].join(':');
}
