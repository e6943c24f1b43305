/**
 * The iptables rules of a bridge and of its containers, as iptables-restore text. Every rule
 * carries a comment naming its owner (`paas-bridge:<bridge>` or `paas:<container id>`), so
 * teardown and repair find exactly the rules of one owner in `iptables-save` output, even
 * after a crash lost every other record of them.
 *
 *   raw PREROUTING  -i <br> -d 127.0.0.0/8 -j DROP        CVE-2020-8558, before conntrack
 *                   -i <br> -p tcp --dport <add-on ports> ! --match-set PAAS-AO-<br> src,dst,dst -j DROP
 *   nat PREROUTING  -m addrtype --dst-type LOCAL -j PAAS-DNAT-<br>   traffic from outside
 *   nat OUTPUT      ! -d 127.0.0.0/8 --dst-type LOCAL -j PAAS-DNAT-<br>   the host itself
 *   nat PAAS-DNAT-<br>  [-d hostIp] -p tcp --dport H -j DNAT --to IP:C   one per published port
 *   nat POSTROUTING -s <subnet> ! -o <br> -j MASQUERADE    outbound NAT
 *   filter INPUT    -i <br> ESTABLISHED,RELATED ACCEPT; -i <br> -p tcp --dport <add-on ports> ACCEPT;
 *                   -i <br> DROP                          the wall around the host
 *   filter FORWARD  -i <br> -o <br> -j PAAS-ISO-<br>        isolated containers (platform apps)
 *                   -i <br> -p tcp --dport <add-on ports> --match-set PAAS-AO-<br> src,dst,dst -j ACCEPT
 *                                                          an add-on on a protected machine
 *                   -i <br> -d <protected> NEW -j DROP      the control plane on other machines
 *                   -i <br> -j ACCEPT; -o <br> --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
 *   filter PAAS-ISO-<br>  -m set --match-set PAAS-ISO-<br> src -j DROP; ... dst -j DROP
 *   ipset  PAAS-ISO-<br>  hash:ip, one entry per isolated container (comment paas:<id>)
 *   ipset  PAAS-AO-<br>   hash:ip,port,ip, (container, tcp:port, address) per add-on it may reach
 *
 * Isolation is set membership, not a rule per container: an isolated container's attach and
 * detach are one `ipset add`/`del` (O(1), not an iptables-save and restore of the whole
 * table), and a packet between two containers costs one hash lookup, however many instances
 * the bridge holds. The set's entries carry the container's tag as their comment, and a
 * container's entry is its lease's address, held by no one else until the lease goes.
 *
 * Add-ons (managed databases) are published on host ports of one range (PAAS_ADDON_PORTS) at
 * their node's service address, and only the containers of the apps attached to one may
 * connect to it. The range is closed to every container of the bridge, whatever the
 * destination, but for the (container, port, address) triples of the reach set: checked in
 * the raw table, before conntrack, so it sees the address and port the container asked for
 * (replies from containers go to ephemeral ports, outside the range). A TCP port of the range
 * is published by the container's paas-proxy, not by DNAT: DNAT from one isolated container to
 * another on the same bridge cannot work, as br_netfilter (loaded wherever Docker ran) runs
 * the nat table on the bridge's frames and bridges a frame whose new destination is on the
 * same bridge, which port isolation then drops. Through the proxy the add-on is a host socket
 * (hence the one opening in the wall, for the range; the raw rule decides who passes) and the
 * add-on container is reached by the host, as the router reaches instances: no forwarding, no
 * hairpin, from this bridge, the host or another node alike. Everything else between isolated
 * containers still drops, a connection straight to the add-on container's address included.
 *
 * Untrusted code runs in the containers (docs/security.md): nothing of the host answers a
 * packet from the bridge but replies, whatever host address it names, loopback included.
 * A published port is not a host socket: its DNAT happens in PREROUTING, before INPUT, so
 * container -> hostIP:published port is forwarded (hairpin) and still works. Loopback
 * clients of published ports are served by a userland proxy (native paas-proxy, owned by the
 * container's shim) as Docker's docker-proxy does, not by DNAT: DNAT to a bridge from
 * 127.0.0.1 needs route_localnet=1 on the bridge, which is what let containers reach the
 * host's 127.0.0.1 services (CVE-2020-8558). Hence no OUTPUT DNAT for 127.0.0.0/8. A
 * binding on a loopback host address keeps its `-d 127.0.0.1` DNAT rule, as Docker keeps
 * it: no packet can match it any more (OUTPUT skips 127/8, the raw table drops 127/8 from
 * the bridge, the routing code drops it from other interfaces), but it names the binding
 * for inspection and teardown like every other one.
 */
import type { PortRange } from './ipam';
import type { PortBinding, ServiceEndpoint } from './ports';
import { ANY_IP } from './ports';

const bridgeTag = (bridge: string): string => `paas-bridge:${bridge}`;
export const containerTag = (id: string): string => `paas:${id}`;
const dnatChain = (bridge: string): string => `PAAS-DNAT-${bridge}`;
const isolationChain = (bridge: string): string => `PAAS-ISO-${bridge}`;
/** The ipset of the bridge's isolated containers' addresses (a set name takes 31 characters: 9 + 15 fit). */
export const isolationSet = (bridge: string): string => `PAAS-ISO-${bridge}`;
/** The ipset of the add-on endpoints each container may reach (8 + 15 characters). */
export const reachSet = (bridge: string): string => `PAAS-AO-${bridge}`;

const tagged = (line: string, tag: string): boolean =>
  line.includes(`--comment ${tag} `) || line.includes(`--comment "${tag}"`) || line.endsWith(`--comment ${tag}`);
const hasChain = (saved: string, chain: string): boolean => saved.split('\n').some((l) => l.startsWith(`:${chain} `));

/** 127.0.0.0/8: never routed to or from a bridge. */
export const isLoopbackIp = (ip: string): boolean => /^127\./.test(ip);

export interface BridgeRuleOptions {
  /** The host ports of add-ons (PAAS_ADDON_PORTS): closed to containers but for their reach set's entries. */
  readonly addonPorts: PortRange;
  /** CIDRs no container may reach (the control plane on other machines): FORWARD drops. */
  readonly protectedCidrs?: readonly string[];
  /** The DNAT chain exists already (a bridge made by an older paas): keep it and its rules. */
  readonly keepDnatChain?: boolean;
}

export function bridgeRules(bridge: string, subnetCidr: string, options: BridgeRuleOptions): string {
  const tag = `-m comment --comment ${bridgeTag(bridge)}`;
  const chain = dnatChain(bridge);
  const iso = isolationChain(bridge);
  // inserted first, in this order: a host whose policies or first rules ACCEPT everything
  // (or DROP it: Docker, ufw) must still apply ours
  const forward = [
    `-i ${bridge} -o ${bridge} ${tag} -j ${iso}`,
    // an add-on on another node whose address is protected (the control plane's machine): what
    // the reach set allows passes before the protected drops (the raw rule dropped the rest)
    reachForwardRule(bridge, options.addonPorts),
    // new connections only: replies to a client there (the router of a multi-node cluster
    // reaching an instance through this node's published port) must pass
    ...(options.protectedCidrs ?? []).map(
      (cidr) => `-i ${bridge} -d ${cidr} -m conntrack ! --ctstate RELATED,ESTABLISHED ${tag} -j DROP`,
    ),
    `-i ${bridge} ${tag} -j ACCEPT`,
    `-o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT ${tag} -j ACCEPT`,
  ];
  return [
    '*raw',
    `-I PREROUTING -i ${bridge} -d 127.0.0.0/8 ${tag} -j DROP`,
    `-I PREROUTING ${reachRule(bridge, options.addonPorts)}`,
    'COMMIT',
    '*nat',
    ...(options.keepDnatChain ? [] : [`-N ${chain}`]),
    `-A PREROUTING -m addrtype --dst-type LOCAL ${tag} -j ${chain}`,
    `-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL ${tag} -j ${chain}`,
    `-A POSTROUTING -s ${subnetCidr} ! -o ${bridge} ${tag} -j MASQUERADE`,
    'COMMIT',
    '*filter',
    `-N ${iso}`,
    ...isolationSetRules(bridge),
    `-I INPUT 1 -i ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED ${tag} -j ACCEPT`,
    `-I INPUT 2 ${addonInputRule(bridge, options.addonPorts)}`,
    `-I INPUT 3 -i ${bridge} ${tag} -j DROP`,
    ...forward.map((rule, i) => `-I FORWARD ${i + 1} ${rule}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** Whether the container's paas-proxy publishes `binding` on every address: a TCP add-on port (see above). */
const proxiedEverywhere = (binding: PortBinding, addonPorts: PortRange): boolean =>
  binding.protocol === 'tcp' && binding.hostPort >= addonPorts.first && binding.hostPort <= addonPorts.last;

/** The DNAT rules of a container's published ports (loopback clients and add-on ports: the proxy, see above). */
export function portRules(
  bridge: string,
  id: string,
  ip: string,
  ports: readonly PortBinding[],
  addonPorts: PortRange,
): string {
  const lines = ports
    .filter((p) => !proxiedEverywhere(p, addonPorts))
    .map((p) =>
      [
        `-A ${dnatChain(bridge)}`,
        ...(p.hostIp !== ANY_IP ? [`-d ${p.hostIp}/32`] : []),
        `-p ${p.protocol} -m ${p.protocol} --dport ${p.hostPort}`,
        `-m comment --comment ${containerTag(id)}`,
        `-j DNAT --to-destination ${ip}:${p.containerPort}`,
      ].join(' '),
    );
  if (lines.length === 0) return '';
  return ['*nat', ...lines, 'COMMIT', ''].join('\n');
}

/**
 * What the container's paas-proxy serves (`tcp:LISTEN_IP:PORT:TARGET_IP:PORT`): each TCP
 * binding a loopback client can use, on a loopback address or on every address (0.0.0.0,
 * as docker-proxy listens; clients on other addresses are DNATed before they reach it), and
 * each TCP add-on port, which has no DNAT rule: every client of it reaches it here.
 */
export function proxySpecs(
  lease: { readonly ip: string; readonly ports: readonly PortBinding[] },
  addonPorts: PortRange,
): string[] {
  return lease.ports
    .filter(
      (p) =>
        p.protocol === 'tcp' && (p.hostIp === ANY_IP || isLoopbackIp(p.hostIp) || proxiedEverywhere(p, addonPorts)),
    )
    .map((p) => `tcp:${p.hostIp}:${p.hostPort}:${lease.ip}:${p.containerPort}`);
}

const ports = (range: PortRange): string => `${range.first}:${range.last}`;

/** raw PREROUTING: a container's TCP to an add-on port, unless its (address, port, destination) is in the reach set. */
function reachRule(bridge: string, range: PortRange): string {
  return (
    `-i ${bridge} -p tcp -m tcp --dport ${ports(range)} -m set ! --match-set ${reachSet(bridge)} src,dst,dst ` +
    `-m comment --comment ${bridgeTag(bridge)} -j DROP`
  );
}

/** FORWARD: a container's connection to an add-on elsewhere that its reach set names. */
function reachForwardRule(bridge: string, range: PortRange): string {
  return (
    `-i ${bridge} -p tcp -m tcp --dport ${ports(range)} -m set --match-set ${reachSet(bridge)} src,dst,dst ` +
    `-m comment --comment ${bridgeTag(bridge)} -j ACCEPT`
  );
}

/** INPUT, before the wall: the add-on ports' proxies (the raw rule let through only what a container may reach). */
function addonInputRule(bridge: string, range: PortRange): string {
  return `-i ${bridge} -p tcp -m tcp --dport ${ports(range)} -m comment --comment ${bridgeTag(bridge)} -j ACCEPT`;
}

/** The two rules of the isolation chain: whatever an isolated container sends or is sent over the bridge drops. */
function isolationSetRules(bridge: string): string[] {
  const tag = `-m comment --comment ${bridgeTag(bridge)}`;
  const set = isolationSet(bridge);
  return ['src', 'dst'].map((dir) => `-A ${isolationChain(bridge)} -m set --match-set ${set} ${dir} ${tag} -j DROP`);
}

/**
 * An isolated container (a platform app's) exchanges nothing with other containers of the
 * bridge, directly or through a published port (hairpin); the host still reaches it. Its
 * entry in the bridge's set: the arguments of `ipset add` (`del` takes the first three).
 */
export function isolationEntry(bridge: string, id: string, ip: string): string[] {
  return [isolationSet(bridge), ip, 'comment', containerTag(id)];
}

/**
 * A container's entry in the bridge's reach set for one add-on endpoint: the arguments of
 * `ipset add` (`del` takes the first three).
 */
export function reachEntry(bridge: string, id: string, ip: string, endpoint: ServiceEndpoint): string[] {
  return [reachSet(bridge), `${ip},tcp:${endpoint.port},${endpoint.address}`, 'comment', containerTag(id)];
}

/**
 * The entries of `ipset save <reach set>` output whose comment names no container of
 * `holders` at that address (a lease lost by a crash, or torn down without its entries):
 * the second argument of `ipset del`.
 */
export function strayReachEntries(saved: string, holders: ReadonlyMap<string, string>): string[] {
  const stray: string[] = [];
  for (const line of saved.split('\n')) {
    const m = /^add \S+ (\S+) comment "?paas:([0-9a-zA-Z_.-]+)"?$/.exec(line.trim());
    if (!m) continue;
    const [, entry = '', id = ''] = m;
    if (holders.get(id) !== entry.split(',')[0]) stray.push(entry);
  }
  return stray;
}

/**
 * A bridge made before add-ons: the restore text that puts the reach rules in place (the set
 * exists before it runs), replacing any of them a crash left half-made, so it can run again.
 */
export function reachSetAdoption(bridge: string, range: PortRange, saved: Pick<SavedTables, 'raw' | 'filter'>): string {
  const stale = (text: string, match: (l: string) => boolean): string[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('-A ') && tagged(l, bridgeTag(bridge)) && match(l))
      .map((l) => `-D ${l.slice(3)}`);
  return [
    '*raw',
    ...stale(saved.raw, (l) => l.includes(` ${reachSet(bridge)} `)),
    `-I PREROUTING ${reachRule(bridge, range)}`,
    'COMMIT',
    '*filter',
    ...stale(saved.filter, (l) => l.startsWith('-A INPUT ') && l.includes(' --dport ') && l.endsWith('-j ACCEPT')),
    // first: whatever the bridge's other rules' places, it must come before its wall
    `-I INPUT 1 ${addonInputRule(bridge, range)}`,
    ...stale(saved.filter, (l) => l.startsWith('-A FORWARD ') && l.includes(` ${reachSet(bridge)} `)),
    // right after the isolation jump, the bridge's first: before its protected drops
    `-I FORWARD 2 ${reachForwardRule(bridge, range)}`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * A bridge made by a paas that isolated by one rule pair per container: the restore text
 * that puts the set rules in its isolation chain and drops the per-container rules, in one
 * commit (the set, holding every isolated address, exists before it runs).
 */
export function isolationSetAdoption(bridge: string, savedFilter: string): string {
  const chain = isolationChain(bridge);
  const perContainer = savedFilter
    .split('\n')
    .filter((l) => l.startsWith(`-A ${chain} `))
    .map((l) => `-D ${l.slice(3)}`);
  const create = hasChain(savedFilter, chain) ? [] : [`-N ${chain}`];
  return ['*filter', ...create, ...isolationSetRules(bridge), ...perContainer, 'COMMIT', ''].join('\n');
}

/** `-D` lines for the `-A` rules of `saved` (one table's iptables-save output) that carry `tag`. */
export function deletions(saved: string, tag: string): string[] {
  return saved
    .split('\n')
    .filter((l) => l.startsWith('-A ') && tagged(l, tag))
    .map((l) => `-D ${l.slice(3)}`);
}

export interface SavedTables {
  readonly raw: string;
  readonly nat: string;
  readonly filter: string;
}

/** The restore text that removes the bridge's rules and its chains (whatever is in them). */
export function bridgeRemoval(bridge: string, saved: SavedTables, options: { keepDnatChain?: boolean } = {}): string {
  const section = (table: string, lines: string[]): string[] => (lines.length ? [`*${table}`, ...lines, 'COMMIT'] : []);
  const natLines = deletions(saved.nat, bridgeTag(bridge));
  const chain = dnatChain(bridge);
  if (!options.keepDnatChain && hasChain(saved.nat, chain)) natLines.push(`-F ${chain}`, `-X ${chain}`);
  const filterLines = deletions(saved.filter, bridgeTag(bridge));
  const iso = isolationChain(bridge);
  if (hasChain(saved.filter, iso)) filterLines.push(`-F ${iso}`, `-X ${iso}`);
  return [
    ...section('raw', deletions(saved.raw, bridgeTag(bridge))),
    ...section('nat', natLines),
    ...section('filter', filterLines),
    '',
  ].join('\n');
}
