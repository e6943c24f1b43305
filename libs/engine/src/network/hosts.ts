/**
 * Name resolution on the bridge through /etc/hosts. Every bridge container bind-mounts one
 * shared, read-only hosts file per bridge, listing every container on it (name, hostname,
 * short id): a container sees itself and every other one by name, and a start or stop
 * rewrites one file instead of one file per container (O(n), not O(n²), at 1,000 containers),
 * with no DNS server process to run and supervise beside a daemonless engine. The file is
 * rewritten in place, never renamed: a bind mount pins the inode it was made from.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Lease } from './ipam';

const LOCALHOST = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export function renderHosts(leases: readonly Lease[]): string {
  const lines = [...LOCALHOST];
  const sorted = [...leases].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const lease of sorted) {
    const names = [...new Set([lease.name, lease.hostname, lease.id.slice(0, 12)])];
    lines.push(`${lease.ip}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
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
 * The host's resolv.conf for a container with its own network: nameservers on the host's
 * loopback (systemd-resolved's 127.0.0.53) are unreachable from the container, so they are
 * dropped, and Docker's public fallbacks are used when none remain.
 */
export function containerResolvConf(host: string): string {
  const lines = host.split('\n');
  const isLoopbackServer = (l: string): boolean => /^\s*nameserver\s+(127\.|::1\s*$)/.test(l);
  const kept = lines.filter((l) => !isLoopbackServer(l));
  const hasServer = kept.some((l) => /^\s*nameserver\s+\S/.test(l));
  const body = kept.join('\n').trimEnd();
  return hasServer ? `${body}\n` : `${body ? `${body}\n` : ''}nameserver 8.8.8.8\nnameserver 8.8.4.4\n`;
}
