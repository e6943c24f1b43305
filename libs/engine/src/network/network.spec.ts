import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containerResolvConf, ownHosts, renderHosts, writeInPlace } from './hosts';
import type { Lease } from './ipam';
import { ConfigError } from '@paas/config';
import {
  bridgeRemoval,
  bridgeRules,
  deletions,
  isolationEntry,
  isolationSetAdoption,
  portRules,
  proxySpecs,
  reachEntry,
  reachSetAdoption,
  strayReachEntries,
} from './rules';
import { addonPortsFromEnv, bridgeSettings, bridgeSettingsFromEnv, parseAddonPorts } from './settings';
import { NetworkConfigError, macFor, parseCidr, parseSubnet } from './subnet';

const id = 'ab'.repeat(32);

describe('subnet and settings', () => {
  it('normalises the subnet and puts the gateway first', () => {
    const s = parseSubnet('10.88.1.7/16');
    assert.equal(s.cidr, '10.88.0.0/16');
    assert.equal(s.gateway, '10.88.0.1');
    assert.equal(macFor('10.88.0.2'), '02:42:0a:58:00:02');
  });

  for (const bad of ['10.88.0.0', '10.88.0.0/31', '300.1.1.1/16', '10.88.0/16', 'x/8']) {
    it(`refuses the subnet ${bad}`, () => assert.throws(() => parseSubnet(bad), NetworkConfigError));
  }

  it('refuses bridge names the kernel or our chain names would not take', () => {
    assert.throws(
      () => bridgeSettings({ bridge: 'a-very-long-bridge', subnet: '10.88.0.0/16' }),
      /invalid bridge name/,
    );
    assert.throws(() => bridgeSettings({ bridge: 'br 0', subnet: '10.88.0.0/16' }), /invalid bridge name/);
    assert.equal(bridgeSettings({ bridge: 'paas0', subnet: '10.88.0.0/16' }).ipForward, true);
    assert.equal(bridgeSettings({ bridge: 'paas0', subnet: '10.88.0.0/16', ipForward: '0' }).ipForward, false);
  });
});

describe('iptables rules', () => {
  const addonPorts = { first: 20000, last: 20999 };
  const bridge = bridgeRules('paas0', '10.88.0.0/16', {
    protectedCidrs: ['10.0.0.5/32', '192.168.7.0/24'],
    addonPorts,
  });
  const section = (text: string, table: string): string[] => {
    const lines = text.split('\n');
    const start = lines.indexOf(`*${table}`);
    return start < 0 ? [] : lines.slice(start + 1, lines.indexOf('COMMIT', start));
  };

  it('tags every rule of the bridge with its owner', () => {
    for (const line of bridge.split('\n').filter((l) => /^-[AI] /.test(l))) {
      assert.match(line, / -m comment --comment paas-bridge:paas0 /, line);
    }
  });

  it('walls the host off: replies pass, everything else from the bridge to a host address is dropped', () => {
    assert.deepEqual(
      section(bridge, 'filter').filter((l) => l.includes(' INPUT ')),
      [
        '-I INPUT 1 -i paas0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment paas-bridge:paas0 -j ACCEPT',
        // the add-on ports' proxies: the raw table decides which container reaches which
        '-I INPUT 2 -i paas0 -p tcp -m tcp --dport 20000:20999 -m comment --comment paas-bridge:paas0 -j ACCEPT',
        '-I INPUT 3 -i paas0 -m comment --comment paas-bridge:paas0 -j DROP',
      ],
    );
    // CVE-2020-8558: before conntrack and routing, as kube-proxy does
    assert.deepEqual(
      section(bridge, 'raw').filter((l) => l.includes('127.0.0.0/8')),
      ['-I PREROUTING -i paas0 -d 127.0.0.0/8 -m comment --comment paas-bridge:paas0 -j DROP'],
    );
  });

  it('forwards: isolation first, then reached add-ons, then the protected control plane, then outbound and replies', () => {
    assert.deepEqual(
      section(bridge, 'filter').filter((l) => l.includes(' FORWARD ')),
      [
        '-I FORWARD 1 -i paas0 -o paas0 -m comment --comment paas-bridge:paas0 -j PAAS-ISO-paas0',
        // an add-on on the control plane's machine, for the containers its reach set names
        '-I FORWARD 2 -i paas0 -p tcp -m tcp --dport 20000:20999 -m set --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment paas-bridge:paas0 -j ACCEPT',
        '-I FORWARD 3 -i paas0 -d 10.0.0.5/32 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment paas-bridge:paas0 -j DROP',
        '-I FORWARD 4 -i paas0 -d 192.168.7.0/24 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment paas-bridge:paas0 -j DROP',
        '-I FORWARD 5 -i paas0 -m comment --comment paas-bridge:paas0 -j ACCEPT',
        '-I FORWARD 6 -o paas0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment paas-bridge:paas0 -j ACCEPT',
      ],
    );
    assert.ok(section(bridge, 'filter').includes('-N PAAS-ISO-paas0'));
  });

  it('never DNATs loopback traffic (no route_localnet): the proxy serves it', () => {
    const nat = section(bridge, 'nat');
    assert.ok(
      nat.includes(
        '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -m comment --comment paas-bridge:paas0 -j PAAS-DNAT-paas0',
      ),
    );
    assert.equal(nat.filter((l) => l.includes('127.0.0.0/8') && l.includes('MASQUERADE')).length, 0);
    assert.ok(
      nat.includes('-A POSTROUTING -s 10.88.0.0/16 ! -o paas0 -m comment --comment paas-bridge:paas0 -j MASQUERADE'),
    );
    assert.doesNotMatch(bridgeRules('paas0', '10.88.0.0/16', { addonPorts, keepDnatChain: true }), /-N PAAS-DNAT/);
  });

  it('publishes through DNAT; loopback clients go through the proxy', () => {
    const bindings = [
      { hostIp: '127.0.0.1', hostPort: 18080, containerPort: 80, protocol: 'tcp' as const },
      { hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' as const },
      { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const },
      { hostIp: '10.1.2.3', hostPort: 8081, containerPort: 81, protocol: 'tcp' as const },
    ];
    assert.equal(
      portRules('paas0', id, '10.88.0.2', bindings, addonPorts),
      [
        '*nat',
        `-A PAAS-DNAT-paas0 -d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:80`,
        `-A PAAS-DNAT-paas0 -p udp -m udp --dport 5353 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:53`,
        `-A PAAS-DNAT-paas0 -p tcp -m tcp --dport 8080 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:80`,
        `-A PAAS-DNAT-paas0 -d 10.1.2.3/32 -p tcp -m tcp --dport 8081 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:81`,
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.deepEqual(proxySpecs({ ip: '10.88.0.2', ports: bindings }, addonPorts), [
      'tcp:127.0.0.1:18080:10.88.0.2:80',
      'tcp:0.0.0.0:8080:10.88.0.2:80',
    ]);
  });

  it("cuts an isolated container off the bridge's other containers, both ways, by its set entry", () => {
    // two fixed rules, whatever the number of isolated containers: membership decides
    assert.deepEqual(
      section(bridge, 'filter').filter((l) => l.startsWith('-A PAAS-ISO-paas0 ')),
      [
        '-A PAAS-ISO-paas0 -m set --match-set PAAS-ISO-paas0 src -m comment --comment paas-bridge:paas0 -j DROP',
        '-A PAAS-ISO-paas0 -m set --match-set PAAS-ISO-paas0 dst -m comment --comment paas-bridge:paas0 -j DROP',
      ],
    );
    // the chain exists before its rules; both before the FORWARD rule that jumps to it
    const filter = section(bridge, 'filter');
    assert.ok(filter.indexOf('-N PAAS-ISO-paas0') < filter.findIndex((l) => l.startsWith('-A PAAS-ISO-paas0 ')));
    assert.deepEqual(isolationEntry('paas0', id, '10.88.0.9'), [
      'PAAS-ISO-paas0',
      '10.88.0.9',
      'comment',
      `paas:${id}`,
    ]);
  });

  it('closes the add-on ports to every container but for its reach set, before conntrack and DNAT', () => {
    assert.deepEqual(
      section(bridge, 'raw').filter((l) => l.includes('PAAS-AO-')),
      [
        '-I PREROUTING -i paas0 -p tcp -m tcp --dport 20000:20999 -m set ! --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment paas-bridge:paas0 -j DROP',
      ],
    );
    // the (container, tcp:port, address) a container may reach, tagged with its owner
    assert.deepEqual(reachEntry('paas0', id, '10.88.0.9', { address: '10.88.0.1', port: 20001 }), [
      'PAAS-AO-paas0',
      '10.88.0.9,tcp:20001,10.88.0.1',
      'comment',
      `paas:${id}`,
    ]);
  });

  it('publishes TCP add-on ports through the proxy on every address given, never by DNAT', () => {
    const bindings = [
      { hostIp: '10.88.0.1', hostPort: 20001, containerPort: 5432, protocol: 'tcp' as const },
      { hostIp: '0.0.0.0', hostPort: 20999, containerPort: 6379, protocol: 'tcp' as const },
      { hostIp: '0.0.0.0', hostPort: 20002, containerPort: 53, protocol: 'udp' as const },
      { hostIp: '10.1.2.3', hostPort: 21000, containerPort: 81, protocol: 'tcp' as const },
    ];
    assert.deepEqual(
      portRules('paas0', id, '10.88.0.2', bindings, addonPorts)
        .split('\n')
        .filter((l) => l.startsWith('-A ')),
      [
        `-A PAAS-DNAT-paas0 -p udp -m udp --dport 20002 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:53`,
        `-A PAAS-DNAT-paas0 -d 10.1.2.3/32 -p tcp -m tcp --dport 21000 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:81`,
      ],
    );
    assert.deepEqual(proxySpecs({ ip: '10.88.0.2', ports: bindings }, addonPorts), [
      'tcp:10.88.0.1:20001:10.88.0.2:5432',
      'tcp:0.0.0.0:20999:10.88.0.2:6379',
    ]);
  });

  it('brings a bridge from before add-ons up to date, replacing what a crash half made', () => {
    const empty = { raw: '*raw\nCOMMIT', filter: '*filter\nCOMMIT' };
    assert.equal(
      reachSetAdoption('paas0', addonPorts, empty),
      [
        '*raw',
        '-I PREROUTING -i paas0 -p tcp -m tcp --dport 20000:20999 -m set ! --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment paas-bridge:paas0 -j DROP',
        'COMMIT',
        '*filter',
        '-I INPUT 1 -i paas0 -p tcp -m tcp --dport 20000:20999 -m comment --comment paas-bridge:paas0 -j ACCEPT',
        '-I FORWARD 2 -i paas0 -p tcp -m tcp --dport 20000:20999 -m set --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment paas-bridge:paas0 -j ACCEPT',
        'COMMIT',
        '',
      ].join('\n'),
    );
    // as iptables-save prints them (nft quotes comments): deleted before being made again
    const half = {
      raw: '*raw\n-A PREROUTING -i paas0 -p tcp -m tcp --dport 20000:20999 -m set ! --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment "paas-bridge:paas0" -j DROP\nCOMMIT',
      filter: [
        '*filter',
        '-A INPUT -i paas0 -p tcp -m tcp --dport 20000:20999 -m comment --comment "paas-bridge:paas0" -j ACCEPT',
        '-A INPUT -i paas0 -m comment --comment "paas-bridge:paas0" -j DROP',
        '-A INPUT -i paas01 -p tcp -m tcp --dport 20000:20999 -m comment --comment "paas-bridge:paas01" -j ACCEPT',
        '-A FORWARD -i paas0 -p tcp -m tcp --dport 20000:20999 -m set --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment "paas-bridge:paas0" -j ACCEPT',
        'COMMIT',
      ].join('\n'),
    };
    const again = reachSetAdoption('paas0', addonPorts, half).split('\n');
    assert.deepEqual(
      again.filter((l) => l.startsWith('-D ')),
      [
        '-D PREROUTING -i paas0 -p tcp -m tcp --dport 20000:20999 -m set ! --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment "paas-bridge:paas0" -j DROP',
        '-D INPUT -i paas0 -p tcp -m tcp --dport 20000:20999 -m comment --comment "paas-bridge:paas0" -j ACCEPT',
        '-D FORWARD -i paas0 -p tcp -m tcp --dport 20000:20999 -m set --match-set PAAS-AO-paas0 src,dst,dst -m comment --comment "paas-bridge:paas0" -j ACCEPT',
      ],
      "the wall and another bridge's rules stay",
    );
    assert.equal(again.filter((l) => l.startsWith('-I ')).length, 3, 'one rule per chain');
  });

  it("finds the reach set's entries that no lease holds at their address", () => {
    const other = 'cd'.repeat(32);
    const saved = [
      'create PAAS-AO-paas0 hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x1',
      `add PAAS-AO-paas0 10.88.0.9,tcp:20001,10.88.0.1 comment "paas:${id}"`,
      `add PAAS-AO-paas0 10.88.0.7,tcp:20001,10.88.0.1 comment "paas:${id}"`,
      `add PAAS-AO-paas0 10.88.0.8,tcp:20002,10.0.0.5 comment "paas:${other}"`,
      '',
    ].join('\n');
    assert.deepEqual(strayReachEntries(saved, new Map([[id, '10.88.0.9']])), [
      '10.88.0.7,tcp:20001,10.88.0.1',
      '10.88.0.8,tcp:20002,10.0.0.5',
    ]);
    assert.deepEqual(
      strayReachEntries(
        saved,
        new Map([
          [id, '10.88.0.9'],
          [other, '10.88.0.8'],
        ]),
      ),
      ['10.88.0.7,tcp:20001,10.88.0.1'],
    );
  });

  it('moves a bridge isolating by per-container rules to its set in one commit, keeping other rules', () => {
    const other = 'cd'.repeat(32);
    const saved = [
      '*filter',
      ':PAAS-ISO-paas0 - [0:0]',
      ':PAAS-ISO-paas01 - [0:0]',
      '-A FORWARD -i paas0 -o paas0 -m comment --comment "paas-bridge:paas0" -j PAAS-ISO-paas0',
      `-A PAAS-ISO-paas0 -s 10.88.0.9/32 -m comment --comment "paas:${id}" -j DROP`,
      `-A PAAS-ISO-paas0 -d 10.88.0.9/32 -m comment --comment "paas:${id}" -j DROP`,
      `-A PAAS-ISO-paas01 -s 10.89.0.9/32 -m comment --comment "paas:${other}" -j DROP`,
      'COMMIT',
    ].join('\n');
    assert.equal(
      isolationSetAdoption('paas0', saved),
      [
        '*filter',
        '-A PAAS-ISO-paas0 -m set --match-set PAAS-ISO-paas0 src -m comment --comment paas-bridge:paas0 -j DROP',
        '-A PAAS-ISO-paas0 -m set --match-set PAAS-ISO-paas0 dst -m comment --comment paas-bridge:paas0 -j DROP',
        `-D PAAS-ISO-paas0 -s 10.88.0.9/32 -m comment --comment "paas:${id}" -j DROP`,
        `-D PAAS-ISO-paas0 -d 10.88.0.9/32 -m comment --comment "paas:${id}" -j DROP`,
        'COMMIT',
        '',
      ].join('\n'),
    );
    // no chain yet: made first
    assert.match(isolationSetAdoption('paas0', '*filter\nCOMMIT'), /^\*filter\n-N PAAS-ISO-paas0\n-A PAAS-ISO-paas0 /);
  });

  it("finds one owner's rules in iptables-save output (nft quotes comments, legacy does not)", () => {
    const saved = [
      '*nat',
      ':PAAS-DNAT-paas0 - [0:0]',
      `-A PAAS-DNAT-paas0 -p tcp -m tcp --dport 1 -m comment --comment "paas:${id}" -j DNAT --to-destination 10.88.0.2:80`,
      `-A PAAS-DNAT-paas0 -p tcp -m tcp --dport 2 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:81`,
      `-A PAAS-DNAT-paas0 -p tcp -m tcp --dport 3 -m comment --comment "paas:${'cd'.repeat(32)}" -j DNAT --to-destination 10.88.0.3:80`,
      '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "paas-bridge:paas0" -j PAAS-DNAT-paas0',
      '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "paas-bridge:paas01" -j PAAS-DNAT-paas01',
      'COMMIT',
    ].join('\n');
    assert.deepEqual(
      deletions(saved, `paas:${id}`).map((l) => l.slice(0, 53)),
      [
        '-D PAAS-DNAT-paas0 -p tcp -m tcp --dport 1 -m comment',
        '-D PAAS-DNAT-paas0 -p tcp -m tcp --dport 2 -m comment',
      ],
    );
    const filter = [
      '*filter',
      ':PAAS-ISO-paas0 - [0:0]',
      '-A INPUT -i paas0 -m comment --comment "paas-bridge:paas0" -j DROP',
      `-A PAAS-ISO-paas0 -s 10.88.0.9/32 -m comment --comment "paas:${id}" -j DROP`,
      'COMMIT',
    ].join('\n');
    const raw = '*raw\n-A PREROUTING -i paas0 -d 127.0.0.0/8 -m comment --comment "paas-bridge:paas0" -j DROP\nCOMMIT';
    const removal = bridgeRemoval('paas0', { raw, nat: saved, filter });
    assert.match(removal, /-D PREROUTING .*paas-bridge:paas0"/);
    assert.doesNotMatch(removal, /paas01/);
    assert.match(removal, /-F PAAS-DNAT-paas0\n-X PAAS-DNAT-paas0\nCOMMIT/);
    assert.match(removal, /\*raw\n-D PREROUTING -i paas0 -d 127\.0\.0\.0\/8 .*\nCOMMIT/);
    assert.match(removal, /-D INPUT -i paas0 .*\n-F PAAS-ISO-paas0\n-X PAAS-ISO-paas0\nCOMMIT/);
    // an upgrade keeps the DNAT chain and the published ports in it
    assert.doesNotMatch(bridgeRemoval('paas0', { raw, nat: saved, filter }, { keepDnatChain: true }), /-X PAAS-DNAT/);
  });
});

describe('protected addresses', () => {
  it('parses PAAS_PROTECTED_CIDRS: addresses and CIDRs, canonical, de-duplicated', () => {
    const s = bridgeSettings({
      bridge: 'paas0',
      subnet: '10.88.0.0/16',
      protectedCidrs: '10.0.0.5, 10.0.0.5/32,192.168.7.9/24',
    });
    assert.deepEqual(s.protectedCidrs, ['10.0.0.5/32', '192.168.7.0/24']);
    assert.equal(parseCidr('0.0.0.0/0'), '0.0.0.0/0');
  });

  for (const bad of ['10.0.0', '10.0.0.5/33', 'api.example', '10.0.0.5/']) {
    it(`refuses ${bad} with the variable's name`, () => {
      assert.throws(
        () => bridgeSettingsFromEnv({ PAAS_PROTECTED_CIDRS: `10.1.1.1,${bad}` }),
        (e: unknown) => e instanceof ConfigError && /PAAS_PROTECTED_CIDRS/.test(e.message) && e.message.includes(bad),
      );
    });
  }
});

describe('add-on ports', () => {
  it('parses PAAS_ADDON_PORTS: a range or one port, the default when unset', () => {
    assert.deepEqual(parseAddonPorts('21000-21099'), { first: 21000, last: 21099 });
    assert.deepEqual(parseAddonPorts('5432'), { first: 5432, last: 5432 });
    assert.deepEqual(bridgeSettingsFromEnv({}).addonPorts, { first: 20000, last: 20999 });
    assert.deepEqual(addonPortsFromEnv({}), { first: 20000, last: 20999 });
    assert.deepEqual(bridgeSettingsFromEnv({ PAAS_ADDON_PORTS: '30000-30010' }).addonPorts, {
      first: 30000,
      last: 30010,
    });
  });

  for (const [bad, why] of [
    ['20000-', /expected FROM-TO/],
    ['2000-1000', /expected FROM-TO/],
    ['0-10', /expected FROM-TO/],
    ['20000-70000', /expected FROM-TO/],
    ['ports', /expected FROM-TO/],
    // replies to containers' connections go to ephemeral ports: the raw rule would drop them
    ['32000-33000', /overlaps the ephemeral ports 32768-60999/],
  ] as const) {
    it(`refuses ${bad} with the variable's name and why, for the bridge and for the api's allocation`, () => {
      for (const read of [
        () => bridgeSettingsFromEnv({ PAAS_ADDON_PORTS: bad }),
        () => addonPortsFromEnv({ PAAS_ADDON_PORTS: bad }),
      ]) {
        assert.throws(
          read,
          (e: unknown) =>
            e instanceof ConfigError &&
            e.message.startsWith(`PAAS_ADDON_PORTS=${JSON.stringify(bad)}: `) &&
            why.test(e.message),
        );
      }
    });
  }
});

describe('hosts and resolv.conf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-hosts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const lease = (name: string, ip: string): Lease => ({
    id: `${name}${id}`.slice(0, 64),
    name,
    hostname: `${name}-h`,
    ip,
    ports: [],
    pid: 1,
    since: '',
  });

  it('lists every container by name, hostname and short id', () => {
    const text = renderHosts([lease('web', '10.88.0.3'), lease('db', '10.88.0.2')]);
    assert.match(text, /^127\.0\.0\.1\tlocalhost\n/);
    assert.match(text, /10\.88\.0\.2\tdb db-h dbababababab\n10\.88\.0\.3\tweb web-h webababababa\n$/);
  });

  it('rewrites the file in place: the inode a bind mount pinned stays', async () => {
    const file = join(dir, 'hosts');
    await writeInPlace(file, 'a long first version\n');
    const inode = statSync(file).ino;
    const fd = openSync(file, 'r');
    await writeInPlace(file, 'short\n');
    closeSync(fd);
    assert.equal(statSync(file).ino, inode);
    assert.equal(readFileSync(file, 'utf8'), 'short\n');
  });

  it("drops the host's loopback nameservers, falling back to docker's", () => {
    assert.equal(containerResolvConf('nameserver 10.0.0.53\nsearch lan\n'), 'nameserver 10.0.0.53\nsearch lan\n');
    assert.equal(
      containerResolvConf('nameserver 127.0.0.53\noptions edns0\n'),
      'options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    );
  });

  it("drops nameservers a container cannot reach: IPv6 (the bridge has none) and the host's own addresses (the walls)", () => {
    const host = 'nameserver 192.168.1.5\nnameserver fe80::1%eth0\nnameserver 2001:4860:4860::8888\nnameserver ::1\n';
    assert.equal(
      containerResolvConf(host, { hostAddresses: ['192.168.1.5', '10.0.0.7'] }),
      'nameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    );
    assert.equal(
      containerResolvConf('nameserver 10.0.0.7\nnameserver 1.1.1.1\n', { hostAddresses: ['10.0.0.7'] }),
      'nameserver 1.1.1.1\n',
    );
  });

  it('leaves build steps out of the shared hosts file: they are no names on the bridge', () => {
    const step: Lease = { ...lease('build', '10.88.0.9'), transient: true };
    assert.doesNotMatch(renderHosts([lease('web', '10.88.0.3'), step]), /10\.88\.0\.9/);
  });

  it('leaves isolated (platform) containers out of the shared file; each gets its own with only itself', () => {
    const instance: Lease = { ...lease('shop.web.1', '10.88.0.7'), isolated: true };
    assert.doesNotMatch(renderHosts([lease('web', '10.88.0.3'), instance]), /10\.88\.0\.7|shop/);
    assert.equal(
      ownHosts(['h1', 'shop.web.1', 'h1'], '10.88.0.7'),
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.7\th1 shop.web.1\n',
    );
    assert.match(ownHosts(['h1']), /\n127\.0\.1\.1\th1\n$/, 'without an address: 127.0.1.1, as before');
  });
});
