/**
 * Name resolution on the bridge through /etc/hosts. Every bridge container bind-mounts one
 * shared, read-only hosts file per bridge, listing every container on it (name, hostname,
 * short id): a container sees itself and every other one by name, and a start or stop
 * rewrites one file instead of one file per container (O(n), not O(n²), at 1,000 containers),
 * with no DNS server process to run and supervise beside a daemonless engine. The file is
 * rewritten in place, never renamed: a bind mount pins the inode it was made from.
 *
 * An isolated container (a platform app's instance) and a build step are no names on the
 * bridge: they reach no other container, and an app must not read the names and addresses of
 * every other app's instances. They get a file of their own (`ownHosts`), and coming and
 * going they leave the shared file alone: a platform node's 1,000 instances rewrite nothing.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { Lease } from './ipam';

const LOCALHOST = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** Whether the lease is a name in the bridge's shared hosts file. */
export const listedInHosts = (lease: Lease): boolean => !lease.transient && !lease.isolated;

export function renderHosts(leases: readonly Lease[]): string {
  const lines = [...LOCALHOST];
  const sorted = leases.filter(listedInHosts).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const lease of sorted) {
    const names = [...new Set([lease.name, lease.hostname, lease.id.slice(0, 12)])];
    lines.push(`${lease.ip}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The /etc/hosts of a container not listed in the shared file (or on no bridge): localhost
 * and its own names at its address (127.0.1.1 without one, as Debian names its own host).
 */
export function ownHosts(names: readonly string[], ip = '127.0.1.1'): string {
  return `${LOCALHOST.slice(0, 2).join('\n')}\n${ip}\t${[...new Set(names)].join(' ')}\n`;
}

/** Overwrites the file's content keeping its inode (creates it if missing). */
export async function writeInPlace(path: string, content: string): Promise<void> {
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const data = Buffer.from(content);
    await fh.write(data, 0, data.length, 0);
    await fh.truncate(data.length);
  } finally {
    await fh.close();
  }
}

/**
 * The host's resolv.conf for a container with its own network, keeping only nameservers the
 * container can reach: not the host's loopback (systemd-resolved's 127.0.0.53), not the
 * host's own addresses (the bridge's walls drop every packet to them but replies), not IPv6
 * (the bridge has none). Docker's public fallbacks are used when none remain, as Docker does.
 */
export function containerResolvConf(host: string, options: { hostAddresses?: readonly string[] } = {}): string {
  const local = new Set(options.hostAddresses ?? []);
  const unreachable = (line: string): boolean => {
    const server = /^\s*nameserver\s+(\S+)/.exec(line)?.[1];
    return server !== undefined && (server.includes(':') || server.startsWith('127.') || local.has(server));
  };
  const kept = host.split('\n').filter((l) => !unreachable(l));
  const hasServer = kept.some((l) => /^\s*nameserver\s+\S/.test(l));
  const body = kept.join('\n').trimEnd();
  return hasServer ? `${body}\n` : `${body ? `${body}\n` : ''}nameserver 8.8.8.8\nnameserver 8.8.4.4\n`;
}

/**
 * What a bridge container gets as /etc/resolv.conf: the host's, filtered as above. When the
 * host's names only systemd-resolved's stub, its upstream servers are read where resolved
 * keeps them (/run/systemd/resolve/resolv.conf), as Docker does.
 */
export async function readContainerResolvConf(path = '/etc/resolv.conf'): Promise<string> {
  const read = (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');
  let host = await read(path);
  const servers = [...host.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]);
  if (servers.length > 0 && servers.every((s) => s === '127.0.0.53')) {
    host = (await read('/run/systemd/resolve/resolv.conf')) || host;
  }
  return containerResolvConf(host, { hostAddresses: hostIpv4Addresses() });
}

/**
 * How long the host's addresses are taken as known: a node's own addresses change rarely, and
 * one becoming the host's nameserver more rarely still. Even read every 2 s, listing a
 * thousand veths was a tenth of the agent's CPU in a 1,000-instance scale-up (profiled).
 */
const HOST_ADDRESSES_TTL_MS = 60_000;
let hostAddresses: { readonly at: number; readonly list: readonly string[] } | undefined;

/**
 * The host's IPv4 addresses, read again at most once a minute: `networkInterfaces()`
 * lists every interface, one veth per container among them, so reading it for each new
 * container made starting the Nth container O(N) (a thousand instances, O(N^2) in all).
 */
function hostIpv4Addresses(now = Date.now()): readonly string[] {
  if (!hostAddresses || now - hostAddresses.at > HOST_ADDRESSES_TTL_MS) {
    const list = Object.values(networkInterfaces()).flatMap((l) =>
      (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address),
    );
    hostAddresses = { at: now, list };
  }
  return hostAddresses.list;
}
