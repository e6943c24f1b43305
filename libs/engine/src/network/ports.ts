/**
 * `-p`/`--publish` and `-P`/`--publish-all` as Docker parses them (go-connections nat
 * ParsePortSpec): `[ip:][hostPort:]containerPort[/proto]`, ranges of equal length on both
 * sides, and Docker's error texts, which users grep for.
 */
import { parseIPv4 } from './subnet';
import { PaasError } from '@paas/errors';

export type Protocol = 'tcp' | 'udp';

/** One published port; `hostPort` 0 means "any free port", chosen when the container starts. */
export interface PortBinding {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

/** An add-on's endpoint as containers connect to it: its node's service address and host port (rules.ts). */
export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
}

export class PortSpecError extends PaasError {
  readonly exitCode = 125;
  constructor(message: string) {
    super('invalid_params', message);
  }
}

/** The address that stands for every local address. */
export const ANY_IP = '0.0.0.0';

function parseRange(text: string, what: 'containerPort' | 'hostPort'): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const start = Number(m?.[1]);
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  const min = what === 'containerPort' ? 1 : 0;
  if (!m || start < min || end > 65535 || end < start) throw new PortSpecError(`invalid ${what}: ${text}`);
  return [start, end];
}

function parseProtocol(text: string): Protocol {
  const proto = text.toLowerCase();
  if (proto === 'tcp' || proto === 'udp') return proto;
  if (proto === 'sctp') throw new PortSpecError('invalid proto: sctp (paas publishes tcp and udp only)');
  throw new PortSpecError(`invalid proto: ${text}`);
}

/** Splits `ip:host:ctr` where ip may be `[v6]`; IPv6 host addresses are refused (IPv4 bridge). */
function splitSpec(spec: string): { ip: string; host: string; container: string } {
  const bracket = /^\[([^\]]*)\]:(.*)$/.exec(spec);
  if (bracket) {
    throw new PortSpecError(`invalid IP address: ${bracket[1] ?? ''} (the paas bridge is IPv4 only)`);
  }
  const parts = spec.split(':');
  if (parts.length === 1) return { ip: '', host: '', container: parts[0] ?? '' };
  if (parts.length === 2) return { ip: '', host: parts[0] ?? '', container: parts[1] ?? '' };
  if (parts.length === 3) return { ip: parts[0] ?? '', host: parts[1] ?? '', container: parts[2] ?? '' };
  throw new PortSpecError(`invalid port format: ${spec}`);
}

/** One `-p` value to bindings (several for a range). */
export function parsePortSpec(spec: string): PortBinding[] {
  const { ip, host, container: rawContainer } = splitSpec(spec.trim());
  const slash = rawContainer.indexOf('/');
  const container = slash < 0 ? rawContainer : rawContainer.slice(0, slash);
  const protocol = slash < 0 ? 'tcp' : parseProtocol(rawContainer.slice(slash + 1));
  if (container === '') throw new PortSpecError(`no port specified: ${spec}<empty>`);
  if (ip !== '' && parseIPv4(ip) === undefined) throw new PortSpecError(`invalid IP address: ${ip}`);
  const [cStart, cEnd] = parseRange(container, 'containerPort');
  const [hStart, hEnd] = host === '' ? [0, 0] : parseRange(host, 'hostPort');
  const count = cEnd - cStart + 1;
  if (host !== '' && hEnd - hStart + 1 !== count) {
    throw new PortSpecError(`invalid ranges specified for container and host Ports: ${container} and ${host}`);
  }
  const bindings: PortBinding[] = [];
  for (let i = 0; i < count; i++) {
    bindings.push({
      hostIp: ip || ANY_IP,
      hostPort: host === '' || hStart === 0 ? 0 : hStart + i,
      containerPort: cStart + i,
      protocol,
    });
  }
  return bindings;
}

/** An image's `ExposedPorts` keys (`80/tcp`, `53/udp`, `8080`) as container ports. */
export function exposedPorts(
  exposed: Record<string, unknown> | undefined,
): Array<{ port: number; protocol: Protocol }> {
  const out: Array<{ port: number; protocol: Protocol }> = [];
  for (const key of Object.keys(exposed ?? {})) {
    const [port = '', proto = 'tcp'] = key.split('/');
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535 || (proto !== 'tcp' && proto !== 'udp')) continue;
    out.push({ port: n, protocol: proto });
  }
  return out.sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : 1));
}

/**
 * What a container publishes: its `-p` bindings, plus with `-P` every exposed port that no
 * `-p` names, on a free host port (Docker's rule).
 */
export function publishedPorts(
  explicit: readonly PortBinding[],
  publishAll: boolean,
  exposed: Record<string, unknown> | undefined,
): PortBinding[] {
  const out = [...explicit];
  if (publishAll) {
    for (const e of exposedPorts(exposed)) {
      if (!out.some((b) => b.containerPort === e.port && b.protocol === e.protocol)) {
        out.push({ hostIp: ANY_IP, hostPort: 0, containerPort: e.port, protocol: e.protocol });
      }
    }
  }
  return out;
}

/** `0.0.0.0:8080->80/tcp` as `docker ps` shows it. */
export function formatBinding(b: PortBinding): string {
  return `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`;
}

/** Two bindings claim the same host socket: same protocol and port, and an overlapping address. */
export function clashes(a: PortBinding, b: PortBinding): boolean {
  return (
    a.protocol === b.protocol &&
    a.hostPort === b.hostPort &&
    (a.hostIp === b.hostIp || a.hostIp === ANY_IP || b.hostIp === ANY_IP)
  );
}
