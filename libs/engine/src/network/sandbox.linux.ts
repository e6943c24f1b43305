/**
 * A container's network namespace and its veth pair. The namespace is made by `ip netns
 * add` (a fresh namespace bind-mounted on /run/netns/paas-<id12>), before the container
 * exists: the runtime joins it by path, as CNI plugins hand namespaces to runc. Because the
 * namespace outlives any process in it, restarts by the shim keep the same address and
 * rules, and teardown does not depend on the container's pid.
 *
 * An isolated sandbox's bridge port is `isolated on`: the bridge forwards nothing between two
 * isolated ports (only to and from the bridge itself, the host, and non-isolated ports, which
 * the PAAS-ISO rules of rules.ts cut off at L3), so it does not rely on br_netfilter alone.
 */
import { existsSync } from 'node:fs';
import { ipBatch } from './commands.linux';
import { macFor } from './subnet';

const netnsName = (id: string): string => `paas-${id.slice(0, 12)}`;
export const netnsPath = (id: string): string => `/run/netns/${netnsName(id)}`;
/** The host end of the pair (15 bytes at most, the kernel's IFNAMSIZ - 1). */
const hostVeth = (id: string): string => `pv${id.slice(0, 12)}`;

export interface SandboxAddress {
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string;
}

/** Whether anything of the sandbox is left (netns or host veth), e.g. after a crash. */
export function sandboxExists(id: string): boolean {
  return existsSync(netnsPath(id)) || existsSync(`/sys/class/net/${hostVeth(id)}`);
}

export async function createSandbox(
  id: string,
  bridge: string,
  address: SandboxAddress,
  options: { isolated?: boolean } = {},
): Promise<void> {
  const ns = netnsName(id);
  const veth = hostVeth(id);
  // isolated before the port comes up: not one frame passes before the wall stands
  await ipBatch([
    `netns add ${ns}`,
    `link add ${veth} type veth peer name eth0 netns ${ns}`,
    `link set ${veth} master ${bridge}`,
    ...(options.isolated ? [`link set ${veth} type bridge_slave isolated on`] : []),
    `link set ${veth} up`,
  ]);
  await ipBatch(
    [
      'link set lo up',
      `link set eth0 address ${macFor(address.ip)}`,
      `addr add ${address.ip}/${address.prefix} dev eth0`,
      'link set eth0 up',
      `route add default via ${address.gateway} dev eth0`,
    ],
    { netns: ns },
  );
}

/**
 * Removes whatever exists of the sandbox; missing pieces are not errors. Only the namespace is
 * deleted when it exists: the kernel then destroys its eth0, and with it the host end, in its
 * own time and many namespaces at once, where deleting the veth first held the kernel's
 * network lock for a grace period per container (35 ms each; a thousand instances leaving
 * took 35 s under the IPAM lock). `sandboxGone` waits for that, outside any lock.
 */
export async function removeSandbox(id: string): Promise<void> {
  if (existsSync(netnsPath(id))) await ipBatch([`netns del ${netnsName(id)}`], { force: true });
  else if (existsSync(`/sys/class/net/${hostVeth(id)}`)) await ipBatch([`link del ${hostVeth(id)}`], { force: true });
}

/** How long the kernel gets to destroy a deleted namespace's veth before it is deleted by hand. */
const VETH_GONE_MS = 3000;

/**
 * Resolves once the host end of a removed sandbox is gone. A namespace some process still
 * holds outlives its deletion, and its veth with it: that one is deleted by hand.
 */
export async function sandboxGone(id: string): Promise<void> {
  const veth = `/sys/class/net/${hostVeth(id)}`;
  const deadline = Date.now() + VETH_GONE_MS;
  while (existsSync(veth) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (existsSync(veth)) await ipBatch([`link del ${hostVeth(id)}`], { force: true });
}
