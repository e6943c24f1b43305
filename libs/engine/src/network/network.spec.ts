import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containerResolvConf, renderHosts, writeInPlace } from './hosts';
import type { Lease } from './ipam';
import { bridgeRemoval, bridgeRules, deletions, portRules } from './rules';
import { bridgeSettings } from './settings';
import { NetworkConfigError, macFor, parseSubnet } from './subnet';

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
  it('tags every rule with its owner, and loopback DNAT has its masquerade', () => {
    const bridge = bridgeRules('paas0', '10.88.0.0/16');
    assert.match(
      bridge,
      /-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment paas-bridge:paas0 -j PAAS-DNAT-paas0/,
    );
    assert.match(bridge, /-A POSTROUTING -s 127.0.0.0\/8 -o paas0 .*-j MASQUERADE/);
    const ports = portRules('paas0', id, '10.88.0.2', [
      { hostIp: '127.0.0.1', hostPort: 18080, containerPort: 80, protocol: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' },
    ]);
    assert.equal(
      ports,
      [
        '*nat',
        `-A PAAS-DNAT-paas0 -d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:80`,
        `-A PAAS-DNAT-paas0 -p udp -m udp --dport 5353 -m comment --comment paas:${id} -j DNAT --to-destination 10.88.0.2:53`,
        'COMMIT',
        '',
      ].join('\n'),
    );
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
    const removal = bridgeRemoval('paas0', saved, '');
    assert.match(removal, /-D PREROUTING .*paas-bridge:paas0"/);
    assert.doesNotMatch(removal, /paas01/);
    assert.match(removal, /-F PAAS-DNAT-paas0\n-X PAAS-DNAT-paas0\nCOMMIT/);
  });
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
});
