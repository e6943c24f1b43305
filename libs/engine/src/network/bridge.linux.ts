/**
 * The bridge every container's veth attaches to, with the gateway address, the sysctls and
 * the bridge-wide iptables rules (rules.ts). Made on demand by the first container start and
 * kept afterwards, as Docker keeps docker0; `paas network prune` removes it when unused.
 *
 * Sysctls: route_localnet stays 0 (1 let containers reach the host's 127.0.0.1, see
 * rules.ts), and the bridge has no IPv6: the bridge is IPv4 only, and an IPv6 link-local
 * address on it would be a host address the IPv4 walls do not cover (a service on [::]).
 * A bridge made by an older paas (route_localnet 1, no walls) is brought up to date by the
 * first container start that finds it, keeping its containers' DNAT rules.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import {
  NetworkCommandError,
  ipBatch,
  ipset,
  ipsetDestroy,
  ipsetExists,
  ipsetReferences,
  iptablesRestore,
  iptablesSave,
} from './commands.linux';
import type { PortRange } from './ipam';
import type { ServiceEndpoint } from './ports';
import {
  bridgeRemoval,
  bridgeRules,
  isolationEntry,
  isolationSet,
  isolationSetAdoption,
  reachEntry,
  reachSet,
  reachSetAdoption,
} from './rules';
import type { Subnet } from './subnet';

export interface BridgeSettings {
  /** `PAAS_BRIDGE`. */
  readonly name: string;
  /** `PAAS_SUBNET`. */
  readonly subnet: Subnet;
  /**
   * Docker's `--ip-forward`: turn on net.ipv4.ip_forward for outbound traffic (default true).
   * The same switch lets the node raise the host's neighbour (ARP) table to hold an entry per
   * container; off, the engine changes no host setting (tests).
   */
  readonly ipForward: boolean;
  /**
   * `PAAS_PROTECTED_CIDRS`: addresses no container may reach through this node (the control
   * plane on other machines: api, registry, redis). The host's own addresses are walled off
   * whatever this says. Applied when the bridge is made.
   */
  readonly protectedCidrs?: readonly string[];
  /**
   * `PAAS_ADDON_PORTS`: the host ports add-ons are published on, closed to every container of
   * the bridge but for the add-on endpoints it may reach (rules.ts). Applied when the bridge is made.
   */
  readonly addonPorts: PortRange;
}

export const bridgeExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);

/** A container on the bridge (from its lease): its address, its tag's owner, its set entries. */
export interface BridgeMember {
  readonly id: string;
  readonly ip: string;
  readonly isolated?: boolean;
  readonly reach?: readonly ServiceEndpoint[];
}

/**
 * Bridges this process made or found up to date: a container start on such a bridge needs
 * no sysctl read and no `ipset list` (a process each). Forgotten when the bridge is gone.
 */
const upToDate = new Set<string>();

/**
 * Creates the bridge and its rules unless the bridge is there; idempotent, run under the IPAM
 * lock. `members`: the bridge's containers, put in its sets when a bridge made before a set
 * existed is brought up to date.
 */
export async function ensureBridge(settings: BridgeSettings, members: readonly BridgeMember[] = []): Promise<void> {
  const { name, subnet } = settings;
  const rules = { protectedCidrs: settings.protectedCidrs ?? [], addonPorts: settings.addonPorts };
  if (bridgeExists(name)) {
    if (upToDate.has(name)) return;
    if ((await readSysctl(name, 'route_localnet')) === '1') await upgradeBridge(settings, members);
    else {
      if (!(await ipsetExists(isolationSet(name)))) await adoptIsolationSet(name, members);
      // no rule naming the reach set: a bridge from before add-ons, or a crash between the set and its rules
      if (!(await ipsetReferences(reachSet(name)))) await adoptReachSet(settings, members);
    }
    upToDate.add(name);
    return;
  }
  upToDate.delete(name);
  await removeBridgeRules(name); // a bridge deleted by hand, or a crash half-way through this function
  try {
    await ipBatch([`link add ${name} type bridge`]);
    await disableIPv6(name);
    await ipBatch([`addr add ${subnet.gateway}/${subnet.prefix} dev ${name}`, `link set ${name} up`]);
  } catch (err) {
    // another engine root on the same bridge name made it first
    if (!(err instanceof NetworkCommandError) || !bridgeExists(name)) throw err;
  }
  if (settings.ipForward) {
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    await raiseNeighbourTable();
  }
  await createIsolationSet(name, members);
  await createReachSet(name, members);
  await iptablesRestore(bridgeRules(name, subnet.cidr, rules));
  upToDate.add(name);
}

/**
 * The kernel's neighbour table holds 1,024 IPv4 entries at most by default (gc_thresh3), and
 * collects above 512: the router's entry for each of a thousand instances on a bridge
 * overflows it, and new connections to some instances find no address ("neighbour table
 * overflow", the instance does not answer). Raised, never lowered, as Kubernetes nodes are.
 */
const NEIGHBOUR_TABLE: Readonly<Record<string, number>> = { gc_thresh1: 4096, gc_thresh2: 8192, gc_thresh3: 16384 };

export async function raiseNeighbourTable(): Promise<void> {
  for (const [key, wanted] of Object.entries(NEIGHBOUR_TABLE)) {
    const path = `/proc/sys/net/ipv4/neigh/default/${key}`;
    const now = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isFinite(now) && now < wanted) await writeFile(path, String(wanted)).catch(() => undefined);
  }
}

/** The bridge's isolation set (kept if it exists), holding its isolated members; before any rule names it. */
async function createIsolationSet(name: string, members: readonly BridgeMember[]): Promise<void> {
  await ipset(['create', isolationSet(name), 'hash:ip', 'family', 'inet', 'comment', '-exist']);
  for (const member of members) {
    if (member.isolated) await ipset(['add', ...isolationEntry(name, member.id, member.ip), '-exist']);
  }
}

/** The bridge's reach set (kept if it exists), holding its members' add-on endpoints; before any rule names it. */
async function createReachSet(name: string, members: readonly BridgeMember[]): Promise<void> {
  await ipset(['create', reachSet(name), 'hash:ip,port,ip', 'family', 'inet', 'comment', '-exist']);
  for (const member of members) {
    for (const endpoint of member.reach ?? []) {
      await ipset(['add', ...reachEntry(name, member.id, member.ip, endpoint), '-exist']);
    }
  }
}

/** A bridge isolating by per-container rules: the set, filled first, then its rules in place of theirs. */
async function adoptIsolationSet(name: string, members: readonly BridgeMember[]): Promise<void> {
  await createIsolationSet(name, members);
  await iptablesRestore(isolationSetAdoption(name, await iptablesSave('filter')));
}

/** A bridge from before add-ons: the reach set, filled first, then the rules that close the add-on ports. */
async function adoptReachSet(settings: BridgeSettings, members: readonly BridgeMember[]): Promise<void> {
  await createReachSet(settings.name, members);
  const [raw, filter] = await Promise.all([iptablesSave('raw'), iptablesSave('filter')]);
  const text = reachSetAdoption(settings.name, settings.addonPorts, { raw, filter });
  await iptablesRestore(text);
}

const readSysctl = (bridge: string, key: string): Promise<string> =>
  readFile(`/proc/sys/net/ipv4/conf/${bridge}/${key}`, 'utf8').then(
    (v) => v.trim(),
    () => '',
  );

async function disableIPv6(bridge: string): Promise<void> {
  const path = `/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`;
  if (existsSync(path)) await writeFile(path, '1'); // no such file: the kernel has no IPv6 at all
}

/** An older paas's bridge: route_localnet off, IPv6 off, its rules replaced (published ports kept). */
async function upgradeBridge(settings: BridgeSettings, members: readonly BridgeMember[]): Promise<void> {
  const { name } = settings;
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '0');
  await disableIPv6(name);
  await createIsolationSet(name, members);
  await createReachSet(name, members);
  const text = bridgeRemoval(name, await saveAll(), { keepDnatChain: true });
  if (text.trim()) await iptablesRestore(text);
  await iptablesRestore(
    bridgeRules(name, settings.subnet.cidr, {
      protectedCidrs: settings.protectedCidrs ?? [],
      addonPorts: settings.addonPorts,
      keepDnatChain: true,
    }),
  );
}

async function saveAll(): Promise<{ raw: string; nat: string; filter: string }> {
  const [raw, nat, filter] = await Promise.all([iptablesSave('raw'), iptablesSave('nat'), iptablesSave('filter')]);
  return { raw, nat, filter };
}

/** The bridge's rules, chains and sets (after the rules: a set a rule names cannot go). */
async function removeBridgeRules(name: string): Promise<void> {
  const text = bridgeRemoval(name, await saveAll());
  if (text.trim()) await iptablesRestore(text);
  for (const set of [isolationSet(name), reachSet(name)]) if (await ipsetExists(set)) await ipsetDestroy(set);
}

export async function removeBridge(name: string): Promise<void> {
  upToDate.delete(name);
  if (bridgeExists(name)) await ipBatch([`link del ${name}`], { force: true });
  await removeBridgeRules(name);
}
