/**
 * Bridge networking for containers, the engine's only entry point into this folder:
 * `attach` before the runtime starts a container, `detach` when it stops or is removed,
 * `setReach` when the add-ons it may connect to change, `prune` to repair. Every kernel
 * object of a container (netns, veth, iptables rules) is made after its lease is on disk and
 * removed before the lease goes, so the lease file is a journal: whatever a crash leaves
 * behind, a lease names it. Only the leases change under the IPAM lock; the kernel work of
 * containers coming and going runs side by side outside it.
 */
import { join } from 'node:path';
import { isProcessAlive } from '@paas/content';
import { type BridgeSettings, bridgeExists, ensureBridge, removeBridge } from './bridge.linux';
import { NetworkCommandError, ipset, ipsetExists, ipsetSave, iptablesRestore, iptablesSave } from './commands.linux';
import { listedInHosts, renderHosts, writeInPlace } from './hosts';
import {
  EPHEMERAL_PORTS,
  IpamError,
  type Lease,
  type LeaseState,
  type PortRange,
  PortAllocatedError,
  allocateIp,
  allocatePorts,
  clashingBindings,
  releaseLease,
} from './ipam';
import { LeaseStore } from './lease-store';
import { probePort } from './port-probe';
import type { PortBinding, ServiceEndpoint } from './ports';
import {
  containerTag,
  deletions,
  isolationEntry,
  isolationSet,
  portRules,
  reachEntry,
  reachSet,
  strayReachEntries,
} from './rules';
import { createSandbox, netnsPath, removeSandbox, sandboxExists, sandboxGone } from './sandbox.linux';

export interface BridgeNetworkOptions {
  readonly bridge: BridgeSettings;
  /** `$PAAS_RUN/network`: leases and the hosts file, one folder per bridge. */
  readonly runDir: string;
  /**
   * Whether container `id` still needs its network: it exists and runs or is restarting.
   * A lease whose container does not (a crash, a container that exited on its own) is
   * reclaimed when its address or ports are wanted, and by `prune`.
   */
  readonly inUse: (id: string) => Promise<boolean>;
  /** Where random host ports come from; Docker's default, the kernel's ephemeral range. */
  readonly portRange?: PortRange;
}

/** What a container brings to the bridge. */
export interface Endpoint {
  readonly id: string;
  readonly name: string;
  readonly hostname: string;
  readonly ports: readonly PortBinding[];
  /** Reaches no other container of the bridge and is reached by none (the host still reaches it). */
  readonly isolated?: boolean;
  /** The add-on endpoints it may connect to (every other add-on port is closed to it). */
  readonly reach?: readonly ServiceEndpoint[];
  /** Held by this process rather than a container of the store (a build step): see Lease.transient. */
  readonly transient?: boolean;
}

export class BridgeNetwork {
  readonly leases: LeaseStore;
  /** Leases of this process whose kernel objects are being made (outside the lock): never reclaimed. */
  private readonly settingUp = new Set<string>();
  /** The hosts file every container on this bridge bind-mounts read-only as /etc/hosts. */
  readonly hostsFile: string;

  constructor(private readonly options: BridgeNetworkOptions) {
    const dir = join(options.runDir, options.bridge.name);
    this.leases = new LeaseStore(dir);
    this.hostsFile = join(dir, 'hosts');
  }

  get settings(): BridgeSettings {
    return this.options.bridge;
  }

  /** The bridge's own address: where containers reach the host (a single host's add-ons are published there). */
  get gateway(): string {
    return this.options.bridge.subnet.gateway;
  }

  namespacePath(id: string): string {
    return netnsPath(id);
  }

  /** Refuses, before a container is even created, host ports a live container publishes. */
  async checkPorts(id: string, ports: readonly PortBinding[]): Promise<void> {
    const state = await this.leases.read();
    for (const binding of clashingBindings(state, id, ports)) {
      const owners = Object.values(state.leases).filter(
        (l) => l.id !== id && l.ports.some((p) => p.hostPort === binding.hostPort),
      );
      for (const owner of owners) if (await this.live(owner)) throw new PortAllocatedError(binding);
    }
  }

  /**
   * Creates the container's netns, veth, address and published ports; resolves to its lease.
   * The lease is decided and written under the lock; the kernel objects are made after it,
   * outside the lock, so containers starting together set up their networks side by side (the
   * lease on disk still names them first: the journal holds). A failure takes them down and
   * gives the lease back under the lock again.
   */
  async attach(endpoint: Endpoint): Promise<Lease> {
    const { bridge } = this.options;
    const lease = await this.leases.transaction(async (state, commit) => {
      const previous = state.leases[endpoint.id];
      if (previous) await this.teardown(previous);
      else await removeSandbox(endpoint.id);
      // the new sandbox takes the same names
      await sandboxGone(endpoint.id);
      await this.reclaimTransient(state);
      // the shared hosts file changes only when a name it lists comes or goes
      let hostsChanged =
        (previous !== undefined && listedInHosts(previous)) || !(endpoint.isolated || endpoint.transient);
      // a port published on the bridge's own address (a single host's add-on) is probed there:
      // the address exists only with the bridge
      if (endpoint.ports.some((p) => p.hostIp === bridge.subnet.gateway)) {
        await ensureBridge(bridge, Object.values(state.leases));
      }
      let allocated: { ip: string; ports: PortBinding[] };
      try {
        allocated = await this.allocate(state, endpoint);
      } catch (err) {
        if (!(err instanceof IpamError) || (await this.reclaim(state, endpoint.id)) === 0) throw err;
        hostsChanged = true;
        allocated = await this.allocate(state, endpoint);
      }
      const made: Lease = {
        id: endpoint.id,
        name: endpoint.name,
        hostname: endpoint.hostname,
        ...allocated,
        pid: process.pid,
        since: new Date().toISOString(),
        ...(endpoint.isolated ? { isolated: true } : {}),
        ...(endpoint.reach?.length ? { reach: [...endpoint.reach] } : {}),
        ...(endpoint.transient ? { transient: true } : {}),
      };
      state.leases[endpoint.id] = made;
      this.settingUp.add(endpoint.id);
      await commit();
      try {
        await ensureBridge(bridge, Object.values(state.leases));
      } catch (err) {
        this.settingUp.delete(endpoint.id);
        releaseLease(state, endpoint.id);
        throw err;
      } finally {
        if (hostsChanged) await writeInPlace(this.hostsFile, renderHosts(Object.values(state.leases)));
      }
      return made;
    });
    try {
      // the container is in the isolation set before it has an address on the bridge
      if (lease.isolated) await ipset(['add', ...isolationEntry(bridge.name, endpoint.id, lease.ip), '-exist']);
      await this.joinReachSet(lease, lease.reach ?? []);
      await createSandbox(
        endpoint.id,
        bridge.name,
        { ip: lease.ip, prefix: bridge.subnet.prefix, gateway: bridge.subnet.gateway },
        { isolated: lease.isolated ?? false },
      );
      const rules = portRules(bridge.name, endpoint.id, lease.ip, lease.ports, bridge.addonPorts);
      if (rules) await iptablesRestore(rules);
    } catch (err) {
      await this.leases.transaction(async (state) => {
        await this.teardown(lease);
        if (state.leases[endpoint.id] === undefined) return;
        releaseLease(state, endpoint.id);
        if (listedInHosts(lease)) await writeInPlace(this.hostsFile, renderHosts(Object.values(state.leases)));
      });
      await sandboxGone(endpoint.id);
      throw err;
    } finally {
      this.settingUp.delete(endpoint.id);
    }
    return lease;
  }

  /**
   * Removes everything the container had on the bridge; a no-op for one that has nothing. The
   * kernel objects go first, outside the lock (containers leaving together take theirs down
   * side by side), then the lease under it.
   */
  async detach(id: string): Promise<void> {
    const seen = (await this.leases.read()).leases[id];
    if (!seen && !sandboxExists(id)) return;
    if (seen) await this.teardown(seen);
    else await removeSandbox(id);
    await this.leases.transaction(async (state) => {
      const lease = state.leases[id];
      if (!lease) return;
      // made anew meanwhile (another process restarted the container): its objects too
      if (lease.since !== seen?.since || lease.ip !== seen.ip) await this.teardown(lease);
      releaseLease(state, id);
      if (listedInHosts(lease)) await writeInPlace(this.hostsFile, renderHosts(Object.values(state.leases)));
    });
    await sandboxGone(id);
  }

  /** A renamed container keeps its address; its new name resolves on the bridge at once. */
  async rename(id: string, name: string): Promise<void> {
    await this.leases.transaction(async (state) => {
      const lease = state.leases[id];
      if (!lease) return;
      state.leases[id] = { ...lease, name };
      if (listedInHosts(lease)) await writeInPlace(this.hostsFile, renderHosts(Object.values(state.leases)));
    });
  }

  /**
   * A container on the bridge may reach other add-on endpoints now (an add-on attached to or
   * detached from its app): the new entries go into the reach set before the ones no longer
   * wanted leave it, and the lease lists old and new while they change (committed before the
   * kernel is touched), so whatever a crash leaves, the lease names every entry of the
   * container (teardown and repair find them). All of it under the leases' lock: a reclaim of
   * the lease (its container died; another start or a prune) coming between the lease's read
   * and the set's change would tear down what the lease named then and leave the entry added
   * after, for the next holder of the address to reach the add-on with. Idempotent; a no-op for
   * a container without a lease (not started: its next attach brings the endpoints of its record).
   */
  async setReach(id: string, reach: readonly ServiceEndpoint[]): Promise<void> {
    await this.leases.transaction(async (state, commit) => {
      const seen = state.leases[id];
      if (!seen) return;
      state.leases[id] = withReach(seen, unionOf(seen.reach ?? [], reach));
      await commit();
      await this.joinReachSet(seen, reach);
      const wanted = new Set(reach.map(endpointKey));
      await this.leaveReachSet(
        seen,
        (seen.reach ?? []).filter((to) => !wanted.has(endpointKey(to))),
      );
      state.leases[id] = withReach(seen, reach);
    });
  }

  /** The current leases (addresses and resolved ports), without the lock. */
  async list(): Promise<Record<string, Lease>> {
    return (await this.leases.read()).leases;
  }

  /**
   * Repair: reclaims every lease whose container is gone or stopped (what a crash or a
   * container exiting on its own leaves), then removes the bridge and its rules if no
   * container is left on it. Returns the ids reclaimed.
   */
  async prune(): Promise<{ reclaimed: string[]; bridgeRemoved: boolean }> {
    return this.leases.transaction(async (state) => {
      const before = Object.keys(state.leases);
      await this.reclaim(state);
      const reclaimed = before.filter((id) => !state.leases[id]);
      await this.removeStrayReach(state);
      let bridgeRemoved = false;
      if (Object.keys(state.leases).length === 0 && bridgeExists(this.options.bridge.name)) {
        await removeBridge(this.options.bridge.name);
        bridgeRemoved = true;
      }
      await writeInPlace(this.hostsFile, renderHosts(Object.values(state.leases)));
      return { reclaimed, bridgeRemoved };
    });
  }

  private async allocate(state: LeaseState, endpoint: Endpoint): Promise<{ ip: string; ports: PortBinding[] }> {
    const ip = allocateIp(state, this.options.bridge.subnet, endpoint.id);
    const ports = await allocatePorts(
      state,
      endpoint.id,
      endpoint.ports,
      this.options.portRange ?? EPHEMERAL_PORTS,
      probePort,
    );
    return { ip, ports };
  }

  private async live(lease: Lease): Promise<boolean> {
    if (lease.transient) return isProcessAlive(lease.pid);
    return (lease.pid !== process.pid && isProcessAlive(lease.pid)) || (await this.options.inUse(lease.id));
  }

  /** Tears down and forgets the leases of containers that no longer need them; how many. */
  private async reclaim(state: LeaseState, except?: string): Promise<number> {
    let count = 0;
    for (const lease of Object.values(state.leases)) {
      if (lease.id === except || this.settingUp.has(lease.id) || (await this.live(lease))) continue;
      await this.teardown(lease);
      await sandboxGone(lease.id);
      releaseLease(state, lease.id);
      count++;
    }
    return count;
  }

  /** Forgets the transient leases of processes that died holding them (a killed build). */
  private async reclaimTransient(state: LeaseState): Promise<void> {
    for (const lease of Object.values(state.leases)) {
      if (!lease.transient || isProcessAlive(lease.pid)) continue;
      await this.teardown(lease);
      await sandboxGone(lease.id);
      releaseLease(state, lease.id);
    }
  }

  /**
   * Repair: the reach set's entries that no lease holds (found by the comment naming their
   * container), which would let the next holder of the address reach an add-on.
   */
  private async removeStrayReach(state: LeaseState): Promise<void> {
    const set = reachSet(this.options.bridge.name);
    if (!(await ipsetExists(set))) return;
    const saved = await ipsetSave(set);
    const holders = new Map(Object.values(state.leases).map((l) => [l.id, l.ip]));
    for (const entry of strayReachEntries(saved, holders)) await ipset(['del', set, entry, '-exist']);
  }

  /**
   * The kernel objects of a lease: netns, veth, DNAT rules (found by the comment naming the
   * container), isolation set entry (the lease's address, which no other lease holds) and
   * reach set entries (the lease lists them).
   */
  private async teardown(lease: Lease): Promise<void> {
    await removeSandbox(lease.id);
    await this.leaveReachSet(lease);
    // no set: the bridge is gone with it, or a paas before the set made it (rules per container)
    const perContainerIsolation = lease.isolated === true && !(await this.leaveIsolationSet(lease));
    const tables = [
      ...(lease.ports.length ? ['nat' as const] : []),
      ...(perContainerIsolation ? ['filter' as const] : []),
    ];
    const text: string[] = [];
    for (const table of tables) {
      const lines = deletions(await iptablesSave(table), containerTag(lease.id));
      if (lines.length) text.push(`*${table}`, ...lines, 'COMMIT');
    }
    if (text.length) await iptablesRestore([...text, ''].join('\n'));
  }

  /** Puts the lease's entries for `endpoints` into the reach set. */
  private async joinReachSet(lease: Lease, endpoints: readonly ServiceEndpoint[]): Promise<void> {
    for (const to of endpoints)
      await ipset(['add', ...reachEntry(this.options.bridge.name, lease.id, lease.ip, to), '-exist']);
  }

  /**
   * Takes the lease's entries for `endpoints` (all of them by default) out of the reach set
   * (none left to take when the bridge and its set are gone).
   */
  private async leaveReachSet(lease: Lease, endpoints: readonly ServiceEndpoint[] = lease.reach ?? []): Promise<void> {
    for (const to of endpoints) {
      const [set = '', entry = ''] = reachEntry(this.options.bridge.name, lease.id, lease.ip, to);
      try {
        await ipset(['del', set, entry, '-exist']);
      } catch (err) {
        if (err instanceof NetworkCommandError && /set with the given name does not exist/.test(err.stderr)) return;
        throw err;
      }
    }
  }

  /** Takes the lease's address out of the isolation set; false when the bridge has no set. */
  private async leaveIsolationSet(lease: Lease): Promise<boolean> {
    try {
      await ipset(['del', isolationSet(this.options.bridge.name), lease.ip, '-exist']);
      return true;
    } catch (err) {
      if (err instanceof NetworkCommandError && /set with the given name does not exist/.test(err.stderr)) return false;
      throw err;
    }
  }
}

const endpointKey = (e: ServiceEndpoint): string => `${e.address}:${e.port}`;

/** The endpoints of `a` and those of `b` it lacks. */
function unionOf(a: readonly ServiceEndpoint[], b: readonly ServiceEndpoint[]): ServiceEndpoint[] {
  const keys = new Set(a.map(endpointKey));
  return [...a, ...b.filter((e) => !keys.has(endpointKey(e)))];
}

/** The lease with these endpoints (none: no `reach`, as attach writes it). */
function withReach(lease: Lease, reach: readonly ServiceEndpoint[]): Lease {
  const { reach: _old, ...rest } = lease;
  return reach.length ? { ...rest, reach: reach.map((e) => ({ address: e.address, port: e.port })) } : rest;
}
