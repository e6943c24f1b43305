/**
 * The bridge every container's veth attaches to, with the gateway address, the sysctls and
 * the bridge-wide iptables rules (rules.ts). Made on demand by the first container start and
 * kept afterwards, as Docker keeps docker0; `paas network prune` removes it when unused.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { NetworkCommandError, ipBatch, iptablesRestore, iptablesSave } from './commands.linux';
import { bridgeRemoval, bridgeRules } from './rules';
import type { Subnet } from './subnet';

export interface BridgeSettings {
  /** `PAAS_BRIDGE`. */
  readonly name: string;
  /** `PAAS_SUBNET`. */
  readonly subnet: Subnet;
  /** Docker's `--ip-forward`: turn on net.ipv4.ip_forward for outbound traffic (default true). */
  readonly ipForward: boolean;
}

export const bridgeExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);

/** Creates the bridge and its rules unless the bridge is there; idempotent, run under the IPAM lock. */
export async function ensureBridge(settings: BridgeSettings): Promise<void> {
  const { name, subnet } = settings;
  if (bridgeExists(name)) return;
  await removeBridgeRules(name); // a bridge deleted by hand, or a crash half-way through this function
  try {
    await ipBatch([
      `link add ${name} type bridge`,
      `addr add ${subnet.gateway}/${subnet.prefix} dev ${name}`,
      `link set ${name} up`,
    ]);
  } catch (err) {
    // another engine root on the same bridge name made it first
    if (!(err instanceof NetworkCommandError) || !bridgeExists(name)) throw err;
  }
  // loopback clients of published ports: packets from 127.0.0.1 may be routed out of the bridge
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
  if (settings.ipForward) await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
  await iptablesRestore(bridgeRules(name, subnet.cidr));
}

export async function removeBridgeRules(name: string): Promise<void> {
  const [nat, filter] = await Promise.all([iptablesSave('nat'), iptablesSave('filter')]);
  const text = bridgeRemoval(name, nat, filter);
  if (text.trim()) await iptablesRestore(text);
}

export async function removeBridge(name: string): Promise<void> {
  if (bridgeExists(name)) await ipBatch([`link del ${name}`], { force: true });
  await removeBridgeRules(name);
}
