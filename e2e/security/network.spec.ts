/**
 * Containers never reach the host or the control plane over the network, and a platform
 * container never reaches another app's instances. Each test is the attacker inside a real
 * busybox container on a bridge and subnet of the test's own, aiming
 * at listeners the test starts: on 127.0.0.1 (through the CVE-2020-8558 raw-frame trick,
 * with NET_RAW given back), on the gateway, on the host's address on another interface, on the
 * bridge's IPv6 link-local address, on a "remote control plane" in a network namespace of
 * the test's own, and at a second app's instance by bridge address and by published port.
 * The same tests prove what must keep working: published ports from the host (loopback
 * through the userland proxy), two unlabelled containers talking, outbound NAT, ping.
 * `after` removes every container, listener, dummy link, netns and rule it made.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ipsetDestroy } from '@paas/engine';
import { cliFor, tempRoots, WORKSPACE } from '../support/cli';

const roots = tempRoots();
const bridge = roots.env.PAAS_BRIDGE ?? '';
const net = (roots.env.PAAS_SUBNET ?? '').split('.').slice(0, 3).join('.');
const gateway = `${net}.1`;
// addresses of the test's own in the benchmarking range 198.18.0.0/15, picked from the pid
const tag = process.pid % 10_000_000;
const octets = `${(process.pid >> 8) & 255}.${process.pid & 252 || 4}`;
const remote = { ns: `paas-rm${tag}`, veth: `pr${tag}`, host: `198.18.${octets}` };
/** A host address on an interface that is not the bridge (the host end of the remote's veth). */
const otherHostIp = remote.host;
const remoteIp = (n: number): string => remote.host.replace(/\d+$/, (d) => String(Number(d) + n));
// the "control plane on another machine": protected; its neighbour (same netns) is the world
const controlPlane = remoteIp(1);
const world = remoteIp(2);
roots.env.PAAS_PROTECTED_CIDRS = `${controlPlane}/32`;
const { run, ok, removeAll } = cliFor(roots.env);

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const trySh = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
};

const listeners: ChildProcess[] = [];
/** A TCP (or UDP) listener in a child process (this process blocks in spawnSync while containers attack). */
async function listen(host: string, secret: string, opts: { udp?: boolean; netns?: string } = {}): Promise<number> {
  const script = opts.udp
    ? `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('${secret}\\n',r.port,r.address));` +
      `s.bind(0,'${host}',()=>console.log(s.address().port))`
    : `const s=require('net').createServer(c=>c.end('${secret}\\n'));` +
      `s.listen({port:0,host:'${host}',ipv6Only:false},()=>console.log(s.address().port))`;
  const argv = [process.execPath, '-e', script];
  const child = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(argv[0] ?? 'node', argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  listeners.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`listener on ${host} exited ${code}`)));
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
}

/** What the attacker's shell printed (stdout and stderr) and its status. */
function attack(script: string, flags: string[] = []): { status: number | null; out: string } {
  const r = run('run', '--rm', ...flags, 'busybox', 'sh', '-c', script);
  return { status: r.status, out: r.stdout + r.stderr };
}
/**
 * Probes at once from one attacker (a refused probe waits out its `nc -w 2`): what each printed,
 * in order. Each writes to a file of its own; `wait` ends when all have.
 */
function attackAll(probes: readonly string[], flags: string[] = []): string[] {
  const script = [
    ...probes.map((p, i) => `( ${p} ) >/tmp/probe.${i} 2>&1 &`),
    'wait',
    ...probes.map((_, i) => `echo '@@probe ${i}'; cat /tmp/probe.${i}`),
  ].join('\n');
  const { out } = attack(script, flags);
  return probes.map((_, i) => {
    const from = out.indexOf(`@@probe ${i}\n`);
    assert.ok(from >= 0, `probe ${i} did not report:\n${out}`);
    const end = out.indexOf('@@probe ', from + 1);
    return out.slice(from, end < 0 ? undefined : end);
  });
}
const tcp = (ip: string, port: number): string => `nc -w 2 ${ip} ${port} </dev/null`;
/** An HTTP GET by hand (busybox 1.35's `wget -T` crashes): the body when it answered. */
const get = (url: string): string => {
  const { hostname, port } = new URL(url);
  return `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${hostname} ${port || 80} | sed '1,/^\\r$/d'`;
};

/** Containers' ids to the proxy processes serving them (by the cmdline the shim gives them). */
function proxiesOf(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.endsWith('paas-proxy') && cmdline.includes(id)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const fetchText = async (url: string): Promise<string | undefined> => {
  for (let i = 0; i < 100; i++) {
    const text = await fetch(url, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => (r.ok ? await r.text() : undefined))
      .catch(() => undefined);
    if (text !== undefined) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
};

const HTTPD = (body: string): string[] => [
  'sh',
  '-c',
  `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`,
];

describe('security: containers never reach the host, the control plane or another app', () => {
  let rawSyn = '';
  let dgramPing = '';
  let gatewayMac = '';

  before(() => {
    ok('image', 'bootstrap', 'busybox');
    const tools = join(roots.root, '..', 'tools');
    mkdirSync(tools, { recursive: true });
    rawSyn = join(tools, 'raw-syn');
    dgramPing = join(tools, 'dgram-ping');
    for (const [out, src] of [
      [rawSyn, 'raw-syn.c'],
      [dgramPing, 'dgram-ping.c'],
    ] as const) {
      sh('cc', ['-static', '-O2', '-o', out, join(WORKSPACE, 'e2e', 'security', 'support', src)]);
    }
    // another machine: a netns behind a veth, holding the control plane and "the world"
    sh('ip', ['netns', 'add', remote.ns]);
    sh('ip', ['link', 'add', remote.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', remote.ns]);
    sh('ip', ['addr', 'add', `${remote.host}/30`, 'dev', remote.veth]);
    sh('ip', ['link', 'set', remote.veth, 'up']);
    sh('ip', ['-n', remote.ns, 'addr', 'add', `${controlPlane}/30`, 'dev', 'eth0']);
    sh('ip', ['-n', remote.ns, 'addr', 'add', `${world}/32`, 'dev', 'eth0']);
    sh('ip', ['-n', remote.ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', remote.ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', remote.ns, 'route', 'add', 'default', 'via', remote.host]);
    sh('ip', ['route', 'add', `${world}/32`, 'via', controlPlane, 'dev', remote.veth]);
    // the bridge exists once a container is on it; then it forwards (a node's ip_forward,
    // which the test's roots leave off) so hairpin and outbound traffic are possible at all
    ok('run', '-d', '--name', 'anchor', 'busybox', 'sleep', '600');
    writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${remote.veth}/forwarding`, '1');
    gatewayMac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
  });

  after(() => {
    for (const child of listeners) if (child.pid) trySh('kill', [String(child.pid)]);
    removeAll();
    run('network', 'prune');
    trySh('ip', ['route', 'del', `${world}/32`]);
    trySh('ip', ['link', 'del', remote.veth]);
    trySh('ip', ['netns', 'del', remote.ns]);
    roots.cleanup();
    const rules = sh('iptables-save', []);
    assert.doesNotMatch(rules, new RegExp(`paas-bridge:${bridge}\\b|PAAS-[A-Z]+-${bridge}\\b`), 'bridge rules left');
    assert.doesNotMatch(sh('iptables-save', ['-t', 'raw']), new RegExp(`paas-bridge:${bridge}\\b`), 'raw rules left');
  });

  it('no host address answers: the gateway, another interface, the bridge link-local (TCP, UDP)', async () => {
    const tcpPort = await listen('::', 'host-secret');
    const udpPort = await listen('0.0.0.0', 'host-secret', { udp: true });
    const linkLocal = /inet6 (fe80::[0-9a-f:]+)\//.exec(sh('ip', ['-6', 'addr', 'show', 'dev', bridge]))?.[1];
    const probes = [
      tcp(gateway, tcpPort),
      tcp(otherHostIp, tcpPort),
      `echo hi | nc -u -w 2 ${gateway} ${udpPort}`,
      `echo hi | nc -u -w 2 ${otherHostIp} ${udpPort}`,
      ...(linkLocal ? [tcp(`${linkLocal}%eth0`, tcpPort)] : []),
    ];
    // the same probes from the host prove the listeners answer
    assert.match(sh('sh', ['-c', `busybox ${tcp(otherHostIp, tcpPort)}`]), /host-secret/);
    for (const [i, out] of attackAll(probes).entries())
      assert.doesNotMatch(out, /host-secret/, `${probes[i]} reached the host`);
  });

  it("no raw frame to the gateway reaches the host's 127.0.0.1 (CVE-2020-8558), even with NET_RAW", async () => {
    const port = await listen('127.0.0.1', 'loopback-secret');
    const probe = (dst: string): { status: number | null; out: string } =>
      attack(`ping -c1 -W1 ${gateway} >/dev/null; /raw-syn eth0 ${gatewayMac} ${dst} ${port}`, [
        '--cap-add',
        'NET_RAW',
        '-v',
        `${rawSyn}:/raw-syn:ro`,
      ]);
    for (const dst of ['127.0.0.1', '127.1.2.3']) {
      const r = probe(dst);
      assert.match(r.out, /^(open|closed|filtered)$/m, r.out);
      assert.match(r.out, /filtered/, `a SYN for ${dst}:${port} through the gateway: ${r.out}`);
    }
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim(), '0');
  });

  it("sees no unix socket of the host's (the agent's, redis')", async () => {
    const dir = join(roots.run, 'sockets');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'agent.sock');
    await new Promise<void>((resolve) => {
      const child = spawn(
        process.execPath,
        ['-e', `require('net').createServer().listen('${path}',()=>console.log('up'))`],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      listeners.push(child);
      child.stdout?.once('data', () => resolve());
    });
    const r = attack(`test -e ${path} && echo visible || echo absent; ls ${dir} 2>&1`);
    assert.match(r.out, /absent/);
  });

  it('the control plane on another machine is unreachable; the rest of the world is not', async () => {
    const port = await listen('0.0.0.0', 'control-plane', { netns: remote.ns });
    assert.match(sh('sh', ['-c', `busybox ${tcp(controlPlane, port)}`]), /control-plane/, 'the node itself reaches it');
    assert.doesNotMatch(attack(tcp(controlPlane, port)).out, /control-plane/);
    assert.match(attack(tcp(world, port)).out, /control-plane/, 'outbound NAT to an unprotected address');
    // and the control plane (the router of a cluster) still reaches an instance through the node
    const published = await freePortOnHost();
    ok('run', '-d', '--name', 'cp-web', '-p', `${published}:80`, 'busybox', ...HTTPD('cp-web'));
    const fromControlPlane = (): string => {
      try {
        const request = get(`http://${remote.host}:${published}/`).replace('| nc ', '| busybox nc ');
        return sh('ip', ['netns', 'exec', remote.ns, 'sh', '-c', request]);
      } catch {
        return '';
      }
    };
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = fromControlPlane();
      if (body === '') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'cp-web\n');
  });

  it('NET_RAW is not a default capability; ping (ICMP datagram sockets) still works; --cap-add NET_RAW gives it back', () => {
    const NET_RAW = 1n << 13n;
    const capEff = (flags: string[]): bigint =>
      BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(attack('cat /proc/self/status', flags).out)?.[1] ?? 'x'}`);
    assert.equal(capEff([]) & NET_RAW, 0n);
    assert.equal(capEff(['--cap-add', 'NET_RAW']) & NET_RAW, NET_RAW);
    const ip = ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'anchor').trim();
    const ping = attack(`/dgram-ping ${ip}`, ['-v', `${dgramPing}:/dgram-ping:ro`]);
    assert.equal(ping.out, 'reply\n');
    // busybox's own ping opens raw sockets only: without NET_RAW it is refused, with it it works
    assert.match(attack(`ping -c1 -W2 ${ip}`).out, /permission denied/);
    assert.equal(attack(`ping -c1 -W2 ${ip}`, ['--cap-add', 'NET_RAW']).status, 0);
  });

  describe('app isolation', () => {
    let portB = 0;
    let ipB = '';
    let portPlain = 0;
    let ipPlain = '';

    before(async () => {
      portB = await freePortOnHost();
      ok('run', '-d', '--name', 'app-b', '--label', 'paas.app=b', '-p', `${portB}:80`, 'busybox', ...HTTPD('app-b'));
      ipB = ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'app-b').trim();
      portPlain = await freePortOnHost();
      ok('run', '-d', '--name', 'plain', '-p', `${portPlain}:80`, 'busybox', ...HTTPD('plain'));
      ipPlain = ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'plain').trim();
    });

    it('the host (the router) reaches every instance: loopback, another host address, the bridge', async () => {
      assert.equal(await fetchText(`http://127.0.0.1:${portB}/`), 'app-b\n');
      assert.equal(await fetchText(`http://${otherHostIp}:${portB}/`), 'app-b\n');
      assert.equal(await fetchText(`http://${ipB}/`), 'app-b\n');
    });

    it("another app's container reaches app b neither by bridge address nor by published port", () => {
      const urls = [`http://${ipB}/`, `http://${gateway}:${portB}/`, `http://${otherHostIp}:${portB}/`];
      for (const app of ['a', 'b']) {
        for (const [i, out] of attackAll(urls.map(get), ['--label', `paas.app=${app}`]).entries())
          assert.doesNotMatch(out, /app-b/, `paas.app=${app} reached ${urls[i]}`);
      }
      const fromPlain = attack(get(`http://${ipB}/`));
      assert.doesNotMatch(fromPlain.out, /app-b/, 'an unlabelled container reached an instance');
    });

    it('two unlabelled containers still talk, directly and through a published port', () => {
      for (const url of [`http://${ipPlain}/`, `http://${gateway}:${portPlain}/`]) {
        const r = attack(get(url));
        assert.equal(r.out, 'plain\n', url);
      }
    });
  });

  it('brings a bridge an older paas made (route_localnet=1, no walls) up to date, keeping its ports', async () => {
    const old = tempRoots();
    const br = old.env.PAAS_BRIDGE ?? '';
    const gw = (old.env.PAAS_SUBNET ?? '').replace(/\.0\/24$/, '.1');
    const cli = cliFor(old.env);
    try {
      cli.ok('image', 'bootstrap', 'busybox');
      sh('ip', ['link', 'add', br, 'type', 'bridge']);
      sh('ip', ['addr', 'add', `${gw}/24`, 'dev', br]);
      sh('ip', ['link', 'set', br, 'up']);
      writeFileSync(`/proc/sys/net/ipv4/conf/${br}/route_localnet`, '1');
      const tag = `-m comment --comment paas-bridge:${br}`;
      execFileSync('iptables-restore', ['-w', '--noflush'], {
        input: [
          '*nat',
          `-N PAAS-DNAT-${br}`,
          `-A PREROUTING -m addrtype --dst-type LOCAL ${tag} -j PAAS-DNAT-${br}`,
          `-A OUTPUT -m addrtype --dst-type LOCAL ${tag} -j PAAS-DNAT-${br}`,
          `-A POSTROUTING -s 127.0.0.0/8 -o ${br} ${tag} -j MASQUERADE`,
          `-A POSTROUTING -s ${old.env.PAAS_SUBNET} ! -o ${br} ${tag} -j MASQUERADE`,
          'COMMIT',
          '*filter',
          `-I FORWARD -i ${br} ${tag} -j ACCEPT`,
          'COMMIT',
          '',
        ].join('\n'),
      });
      const port = await freePortOnHost();
      cli.ok('run', '-d', '--name', 'upgraded', '-p', `127.0.0.1:${port}:80`, 'busybox', ...HTTPD('upgraded'));
      assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${br}/route_localnet`, 'utf8').trim(), '0');
      const rules = sh('iptables-save', []);
      assert.match(rules, new RegExp(`-A INPUT -i ${br} .*paas-bridge:${br}.* -j DROP`));
      assert.doesNotMatch(rules, new RegExp(`-s 127\\.0\\.0\\.0/8 -o ${br} `));
      assert.match(sh('iptables-save', ['-t', 'raw']), new RegExp(`-d 127\\.0\\.0\\.0/8 -i ${br} .*-j DROP`));
      assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'upgraded\n');
    } finally {
      cli.run('rm', '-f', 'upgraded');
      cli.run('network', 'prune');
      old.cleanup();
      trySh('ip', ['link', 'del', br]);
    }
  });

  it('moves a bridge that isolated by rules per container onto its set, still isolating; rm and prune empty it', async () => {
    const old = tempRoots();
    const br = old.env.PAAS_BRIDGE ?? '';
    const gw = (old.env.PAAS_SUBNET ?? '').replace(/\.0\/24$/, '.1');
    const set = `PAAS-ISO-${br}`;
    const cli = cliFor(old.env);
    try {
      cli.ok('image', 'bootstrap', 'busybox');
      const port = await freePortOnHost();
      const args = ['--label', 'paas.app=one', '-p', `${port}:80`, 'busybox', ...HTTPD('first')];
      const id = cli.ok('run', '-d', '--name', 'first', ...args).trim();
      const ip = cli.ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'first').trim();
      // what a paas before the set left: a rule pair per isolated container, no set
      const own = `-m comment --comment paas:${id} -j DROP`;
      execFileSync('iptables-restore', ['-w', '--noflush'], {
        input: [
          '*filter',
          `-F PAAS-ISO-${br}`,
          `-A PAAS-ISO-${br} -s ${ip}/32 ${own}`,
          `-A PAAS-ISO-${br} -d ${ip}/32 ${own}`,
          'COMMIT',
          '',
        ].join('\n'),
      });
      await ipsetDestroy(set); // waits while the kernel still holds it for the rules just flushed
      // the next start on the bridge adopts the set; an unlabelled container (whose own address
      // is in no set) reaches the first neither directly nor through its published port
      const r = cli.run(
        'run',
        '--rm',
        'busybox',
        'sh',
        '-c',
        `${get(`http://${ip}/`)}; ${get(`http://${gw}:${port}/`)}`,
      );
      assert.doesNotMatch(
        r.stdout + r.stderr,
        /first/,
        'a container reached an isolated instance of a bridge moved onto its set',
      );
      assert.match(sh('ipset', ['list', set]), new RegExp(`^${ip.replace(/\./g, '\\.')} comment "paas:${id}"$`, 'm'));
      const filter = sh('iptables-save', ['-t', 'filter']);
      assert.doesNotMatch(filter, new RegExp(`paas:${id}`), 'per-container rules left');
      assert.match(filter, new RegExp(`-A PAAS-ISO-${br} -m set --match-set ${set} src `));
      assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'first\n', 'the host still reaches it');
      cli.ok('rm', '-f', 'first');
      assert.doesNotMatch(sh('ipset', ['list', set]), new RegExp(`paas:${id}`), 'set entry left');
      cli.ok('network', 'prune');
      assert.doesNotMatch(sh('ipset', ['list', '-n']), new RegExp(`^${set}$`, 'm'), 'set left');
    } finally {
      cli.run('rm', '-f', 'first');
      cli.run('network', 'prune');
      old.cleanup();
      trySh('ip', ['link', 'del', br]);
      trySh('ipset', ['destroy', set]);
    }
  });

  it('publishes on loopback through a proxy the shim owns; rm -f leaves no proxy, rule or netns', async () => {
    const port = await freePortOnHost();
    const id = ok('run', '-d', '--name', 'lo-web', '-p', `127.0.0.1:${port}:80`, 'busybox', ...HTTPD('lo-web')).trim();
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'lo-web\n');
    const proxies = proxiesOf(id);
    assert.equal(proxies.length, 1, 'one paas-proxy for the container');
    ok('rm', '-f', 'lo-web');
    assert.deepEqual(proxiesOf(id), [], 'proxy left');
    assert.doesNotMatch(sh('iptables-save', []), new RegExp(`paas:${id}`), 'rules left');
    assert.doesNotMatch(sh('ip', ['netns', 'list']), new RegExp(`paas-${id.slice(0, 12)}`), 'netns left');
    const udp = run('run', '-d', '-p', `127.0.0.1:${port}:53/udp`, 'busybox', 'sleep', '1');
    assert.equal(udp.status, 125);
    assert.match(udp.stderr, /udp on a loopback host address is not supported/);
    assert.equal(
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => 'answered',
        () => 'refused',
      ),
      'refused',
    );
  });
});

/** A TCP port free on every host address now (the kernel picks it). */
function freePortOnHost(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
