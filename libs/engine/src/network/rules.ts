/**
 * The iptables rules of a bridge and of its containers, as iptables-restore text. Every rule
 * carries a comment naming its owner (`paas-bridge:<bridge>` or `paas:<container id>`), so
 * teardown and repair find exactly the rules of one owner in `iptables-save` output, even
 * after a crash lost every other record of them.
 *
 *   nat PREROUTING  -m addrtype --dst-type LOCAL -j PAAS-DNAT-<br>   traffic from outside
 *   nat OUTPUT      -m addrtype --dst-type LOCAL -j PAAS-DNAT-<br>   the host itself, loopback included
 *   nat PAAS-DNAT-<br>  [-d hostIp] -p tcp --dport H -j DNAT --to IP:C   one per published port
 *   nat POSTROUTING -s 127.0.0.0/8 -o <br> -j MASQUERADE   loopback clients (with route_localnet=1)
 *   nat POSTROUTING -s <subnet> ! -o <br> -j MASQUERADE    outbound NAT
 *   filter FORWARD  -i <br> -j ACCEPT; -o <br> --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
 *
 * Loopback DNAT instead of a userland proxy: no process per port, and the kernel does the
 * forwarding. The price is route_localnet on the bridge (so 127.0.0.1-sourced packets may leave
 * through it) and the masquerade that gives them the gateway's address as source.
 */
import type { PortBinding } from './ports';
import { ANY_IP } from './ports';

export const bridgeTag = (bridge: string): string => `paas-bridge:${bridge}`;
export const containerTag = (id: string): string => `paas:${id}`;
export const dnatChain = (bridge: string): string => `PAAS-DNAT-${bridge}`;

export function bridgeRules(bridge: string, subnetCidr: string): string {
  const tag = `-m comment --comment ${bridgeTag(bridge)}`;
  const chain = dnatChain(bridge);
  return [
    '*nat',
    `-N ${chain}`,
    `-A PREROUTING -m addrtype --dst-type LOCAL ${tag} -j ${chain}`,
    `-A OUTPUT -m addrtype --dst-type LOCAL ${tag} -j ${chain}`,
    `-A POSTROUTING -s 127.0.0.0/8 -o ${bridge} ${tag} -j MASQUERADE`,
    `-A POSTROUTING -s ${subnetCidr} ! -o ${bridge} ${tag} -j MASQUERADE`,
    'COMMIT',
    '*filter',
    // inserted first: a host whose FORWARD policy is DROP (Docker, ufw) must still pass ours
    `-I FORWARD -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT ${tag} -j ACCEPT`,
    `-I FORWARD -i ${bridge} ${tag} -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}

export function portRules(bridge: string, id: string, ip: string, ports: readonly PortBinding[]): string {
  if (ports.length === 0) return '';
  const lines = ports.map((p) =>
    [
      `-A ${dnatChain(bridge)}`,
      ...(p.hostIp !== ANY_IP ? [`-d ${p.hostIp}/32`] : []),
      `-p ${p.protocol} -m ${p.protocol} --dport ${p.hostPort}`,
      `-m comment --comment ${containerTag(id)}`,
      `-j DNAT --to-destination ${ip}:${p.containerPort}`,
    ].join(' '),
  );
  return ['*nat', ...lines, 'COMMIT', ''].join('\n');
}

const tagged = (line: string, tag: string): boolean =>
  line.includes(`--comment ${tag} `) || line.includes(`--comment "${tag}"`) || line.endsWith(`--comment ${tag}`);

/** `-D` lines for the `-A` rules of `saved` (one table's iptables-save output) that carry `tag`. */
export function deletions(saved: string, tag: string): string[] {
  return saved
    .split('\n')
    .filter((l) => l.startsWith('-A ') && tagged(l, tag))
    .map((l) => `-D ${l.slice(3)}`);
}

/** The restore text that removes the bridge's rules and its DNAT chain (whatever is in it). */
export function bridgeRemoval(bridge: string, nat: string, filter: string): string {
  const chain = dnatChain(bridge);
  const natLines = deletions(nat, bridgeTag(bridge));
  if (nat.split('\n').some((l) => l === `:${chain} - [0:0]` || l.startsWith(`:${chain} `))) {
    natLines.push(`-F ${chain}`, `-X ${chain}`);
  }
  const filterLines = deletions(filter, bridgeTag(bridge));
  return [
    ...(natLines.length ? ['*nat', ...natLines, 'COMMIT'] : []),
    ...(filterLines.length ? ['*filter', ...filterLines, 'COMMIT'] : []),
    '',
  ].join('\n');
}
