/**
 * IP address management: which container holds which address and which host ports, as pure
 * functions over one state object. `lease-store.ts` keeps that state in a file under a lock;
 * keeping the rules here pure lets the specs drive exhaustion and clashes without a kernel.
 */
import { type PortBinding, type ServiceEndpoint, clashes, formatBinding } from './ports';
import { type Subnet, contains, formatIPv4, parseIPv4 } from './subnet';
import { PaasError } from '@paas/errors';

/** A container's claim on the bridge; written before any kernel object exists (the journal). */
export interface Lease {
  readonly id: string;
  readonly name: string;
  readonly hostname: string;
  readonly ip: string;
  /** Resolved bindings: every hostPort is a real port here. */
  readonly ports: PortBinding[];
  /** The process that set the network up; while it lives, the lease is in use even if the container is not running yet. */
  readonly pid: number;
  readonly since: string;
  /** Cut off from the other containers of the bridge (a platform app's): L2 port isolation and PAAS-ISO rules. */
  readonly isolated?: boolean;
  /** The add-on endpoints it may connect to: its entries in the bridge's reach set (rules.ts). */
  readonly reach?: readonly ServiceEndpoint[];
  /**
   * Held by a process, not by a container of the store (a build's RUN step): in use exactly
   * while `pid` lives, so what a killed build leaves is reclaimed by the next attach.
   */
  readonly transient?: boolean;
}

export interface LeaseState {
  version: 1;
  /** Where the last allocations ended: the next ones start after them (no hot reuse of an address). */
  lastIp?: string;
  lastPort?: number;
  leases: Record<string, Lease>;
}

export const emptyState = (): LeaseState => ({ version: 1, leases: {} });

/** No address or host port left (rate_limited: a limit reached), or a host port taken (conflict). */
export class IpamError extends PaasError {
  readonly exitCode = 125;
  constructor(message: string, code: 'rate_limited' | 'conflict' = 'rate_limited') {
    super(code, message);
  }
}

/** Docker's message when another container publishes the same host port. */
export class PortAllocatedError extends IpamError {
  constructor(binding: PortBinding) {
    super(`Bind for ${binding.hostIp}:${binding.hostPort} failed: port is already allocated`, 'conflict');
  }
}

/** Forgets `id`'s lease (its address and ports become free). */
export function releaseLease(state: LeaseState, id: string): void {
  Reflect.deleteProperty(state.leases, id);
}

/** An address for `id`: its current one if it has a lease, else the next free one after the last given. */
export function allocateIp(state: LeaseState, subnet: Subnet, id: string): string {
  const held = state.leases[id]?.ip;
  if (held !== undefined && contains(subnet, parseIPv4(held) ?? -1)) return held;
  // the addresses as written (formatIPv4's dotted quads): parsing every lease's at every
  // allocation made a node's thousandth start cost a thousand parses
  const used = new Set<string>();
  for (const lease of Object.values(state.leases)) used.add(lease.ip);
  const size = subnet.last - subnet.first + 1;
  const last = parseIPv4(state.lastIp ?? '');
  const start = last !== undefined && contains(subnet, last) ? last + 1 - subnet.first : 0;
  for (let i = 0; i < size; i++) {
    const candidate = subnet.first + ((start + i) % size);
    if (!used.has(formatIPv4(candidate))) {
      state.lastIp = formatIPv4(candidate);
      return state.lastIp;
    }
  }
  throw new IpamError(`no available IPv4 addresses on subnet ${subnet.cidr}`);
}

/** The port range random host ports come from (the kernel's ephemeral range, like Docker's). */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** The kernel's default ephemeral range (net.ipv4.ip_local_port_range), Docker's for random host ports. */
export const EPHEMERAL_PORTS: PortRange = { first: 32768, last: 60999 };

/**
 * Whether the host can take a binding: `busy` when a host process already holds the port,
 * or a message when the address itself is unusable (not a local address).
 */
export type PortProbe = (binding: PortBinding) => Promise<'free' | 'busy' | { error: string }>;

/**
 * Host ports for `requests`: fixed ones must not clash with another lease's, `0` takes the
 * next port of `range` that no lease holds and the host does not use.
 */
export async function allocatePorts(
  state: LeaseState,
  id: string,
  requests: readonly PortBinding[],
  range: PortRange,
  probe: PortProbe,
): Promise<PortBinding[]> {
  const taken: PortBinding[] = Object.values(state.leases)
    .filter((l) => l.id !== id)
    .flatMap((l) => l.ports);
  const out: PortBinding[] = [];
  const check = async (binding: PortBinding): Promise<boolean> => {
    const verdict = await probe(binding);
    if (typeof verdict === 'object')
      throw new IpamError(`Bind for ${binding.hostIp}:${binding.hostPort} failed: ${verdict.error}`, 'conflict');
    return verdict === 'free';
  };
  for (const request of requests) {
    if (request.hostPort !== 0) {
      if (taken.some((t) => clashes(t, request))) throw new PortAllocatedError(request);
      if (!(await check(request))) {
        const family = request.protocol === 'tcp' ? 'tcp4' : 'udp4';
        throw new IpamError(
          `Bind for ${request.hostIp}:${request.hostPort} failed: listen ${family} ${request.hostIp}:${request.hostPort}: bind: address already in use`,
          'conflict',
        );
      }
      taken.push(request);
      out.push(request);
      continue;
    }
    const size = range.last - range.first + 1;
    const after = state.lastPort !== undefined && state.lastPort >= range.first ? state.lastPort + 1 - range.first : 0;
    let chosen: PortBinding | undefined;
    for (let i = 0; i < size && chosen === undefined; i++) {
      const candidate = { ...request, hostPort: range.first + ((after + i) % size) };
      if (!taken.some((t) => clashes(t, candidate)) && (await check(candidate))) chosen = candidate;
    }
    if (!chosen) throw new IpamError(`no free host port for ${formatBinding(request)} in ${range.first}-${range.last}`);
    state.lastPort = chosen.hostPort;
    taken.push(chosen);
    out.push(chosen);
  }
  return out;
}

/** The bindings another lease already holds that `requests` would clash with (a check before create). */
export function clashingBindings(state: LeaseState, id: string, requests: readonly PortBinding[]): PortBinding[] {
  const taken = Object.values(state.leases)
    .filter((l) => l.id !== id)
    .flatMap((l) => l.ports);
  return requests.filter((r) => r.hostPort !== 0 && taken.some((t) => clashes(t, r)));
}
