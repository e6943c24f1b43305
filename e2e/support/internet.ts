/**
 * "The internet" of a spec: a network namespace of its own behind a veth, a /30 in
 * 198.19.0.0/16 (RFC 2544's benchmark range: never routed outside), no default route and no
 * resolver. The host end gets `hostEnd`, the namespace's eth0 `ip`; servers in it listen on
 * `ip` and never look a name up. Each spec picks its own /30 (from its pid) and names.
 */
import { execFileSync } from 'node:child_process';

export interface Internet {
  /** The namespace's name. */
  readonly ns: string;
  /** The host end of the veth. */
  readonly veth: string;
  /** The host end's address. */
  readonly hostEnd: string;
  /** The namespace's address. */
  readonly ip: string;
}

/**
 * A spec's own "internet", picked from its pid: the /30 `198.19.(band | pid bits).(pid bits)`
 * (a band per kind of spec keeps them apart), the namespace `paas-NAME<tag>` and the veth
 * `VETH<tag>` (at most 15 characters: VETH of 4 at most).
 */
export function pidInternet(name: string, veth: string, band: number): Internet {
  const tag = process.pid % 10_000_000;
  const prefix = `198.19.${band | ((process.pid >> 6) & 63)}.${(process.pid & 63) << 2}`;
  const host = (n: number): string => prefix.replace(/\d+$/, (d) => String(Number(d) + n));
  return { ns: `paas-${name}${tag}`, veth: `${veth}${tag}`, hostEnd: host(1), ip: host(2) };
}

/** The namespace, its veth and their addresses; a failure half-way is undone by `removeInternet`. */
export function createInternet(net: Internet): void {
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ip('netns', 'add', net.ns);
  ip('link', 'add', net.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', net.ns);
  ip('addr', 'add', `${net.hostEnd}/30`, 'dev', net.veth);
  ip('link', 'set', net.veth, 'up');
  ip('-n', net.ns, 'addr', 'add', `${net.ip}/30`, 'dev', 'eth0');
  ip('-n', net.ns, 'link', 'set', 'eth0', 'up');
  ip('-n', net.ns, 'link', 'set', 'lo', 'up');
}

/** Removes the veth and the namespace, whatever of them exists. */
export function removeInternet(net: Internet): void {
  for (const args of [
    ['link', 'del', net.veth],
    ['netns', 'del', net.ns],
  ]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
