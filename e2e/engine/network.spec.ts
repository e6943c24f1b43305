/**
 * Bridge networking through the real CLI, runtime and kernel: a bridge, subnet and temporary
 * roots of the test's own (never paas0), traffic only to loopback and to the containers on
 * that bridge. `after` removes the bridge and checks that no netns, veth, rule or lease is left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupsLeftSince, cliFor, tempRoots } from '../support/cli';

const roots = tempRoots();
const suiteStart = Date.now();
const bridge = roots.env.PAAS_BRIDGE ?? '';
const subnetPrefix = (roots.env.PAAS_SUBNET ?? '').split('.').slice(0, 3).join('.');
const { run, ok, removeAll } = cliFor(roots.env);

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const netnsList = (): string => sh('ip', ['netns', 'list']);
const links = (): string => sh('ip', ['-o', 'link']);
const rules = (): string => sh('iptables-save', []);
/** The DNAT rules of this test's bridge (other specs run containers side by side). */
const bridgeRules = (): string[] =>
  rules()
    .split('\n')
    .filter((l) => l.startsWith(`-A PAAS-DNAT-${bridge} `));
const leases = (): Record<string, unknown> => {
  const file = join(roots.run, 'network', bridge, 'leases.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { leases: Record<string, unknown> }).leases : {};
};

/** Nothing of container `id` is left on the host. */
function assertGone(id: string): void {
  assert.doesNotMatch(netnsList(), new RegExp(`paas-${id.slice(0, 12)}`), 'netns left');
  assert.doesNotMatch(links(), new RegExp(`pv${id.slice(0, 12)}`), 'veth left');
  assert.doesNotMatch(rules(), new RegExp(`paas:${id}`), 'iptables rules left');
  assert.equal(leases()[id], undefined, 'lease left');
}

/** A port nothing listens on now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const fetchText = (url: string) => () =>
  fetch(url, { signal: AbortSignal.timeout(2000) })
    .then(async (r) => (r.ok ? await r.text() : undefined))
    .catch(() => undefined);

const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hello-paas > /www/index.html && exec httpd -f -p 80 -h /www'];

describe('bridge networking', () => {
  before(() => {
    ok('image', 'bootstrap', 'busybox');
  });
  after(() => {
    const left = removeAll();
    const prune = run('network', 'prune');
    roots.cleanup();
    assert.deepEqual(cgroupsLeftSince(suiteStart), [], 'container cgroups left behind');
    assert.equal(prune.status, 0, prune.stderr);
    assert.deepEqual(left, [], 'containers left behind');
    assert.doesNotMatch(links(), new RegExp(`\\b${bridge}\\b`), 'bridge left');
    assert.doesNotMatch(rules(), new RegExp(`paas-bridge:${bridge}\\b|PAAS-DNAT-${bridge}\\b`), 'bridge rules left');
  });

  it('publishes a port on loopback (-p 127.0.0.1:PORT:80) and names it in ps, port and inspect', async () => {
    const port = await freePort();
    // NET_RAW: busybox's ping needs raw sockets, no longer a default capability
    const id = ok(
      'run',
      '-d',
      '--name',
      'web',
      '--cap-add',
      'NET_RAW',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      ...HTTPD,
    ).trim();
    assert.equal(await until('httpd through the DNAT', fetchText(`http://127.0.0.1:${port}/`)), 'hello-paas\n');
    assert.match(ok('ps'), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp\\s+web`));
    assert.equal(ok('port', 'web'), `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal(ok('port', 'web', '80'), `127.0.0.1:${port}\n`);
    const ip = ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web').trim();
    assert.match(ip, new RegExp(`^${subnetPrefix.replace(/\./g, '\\.')}\\.\\d+$`));
    assert.match(netnsList(), new RegExp(`paas-${id.slice(0, 12)}`));
    assert.match(rules(), new RegExp(`paas:${id}`));
  });

  it('lets containers on the bridge reach each other by name; /etc/hosts holds itself', () => {
    ok('run', '-d', '--name', 'other', 'busybox', 'sleep', '300');
    assert.match(ok('exec', 'other', 'cat', '/etc/hosts'), /\tother /);
    const ping = run('exec', 'web', 'ping', '-c1', '-W2', 'other');
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    const back = run(
      'run',
      '--rm',
      '--cap-add',
      'NET_RAW',
      'busybox',
      'sh',
      '-c',
      'ping -c1 -W2 other >/dev/null && wget -qO- http://web/',
    );
    assert.equal(back.status, 0, back.stderr);
    assert.equal(back.stdout, 'hello-paas\n');
    const write = run('exec', 'other', 'sh', '-c', 'echo 1.2.3.4 evil >> /etc/hosts');
    assert.notEqual(write.status, 0, 'the shared hosts file is read-only');
  });

  it("keeps a platform (isolated) container out of the bridge's names: its own /etc/hosts, the shared file untouched", () => {
    const shared = join(roots.run, 'network', bridge, 'hosts');
    const before = readFileSync(shared, 'utf8');
    const id = ok('run', '-d', '--name', 'iso', '--label', 'paas.app=a', 'busybox', 'sleep', '300').trim();
    try {
      const ip = ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'iso').trim();
      const own = ok('exec', 'iso', 'cat', '/etc/hosts');
      assert.match(own, new RegExp(`^${ip.replace(/\./g, '\\.')}\t${id.slice(0, 12)} iso$`, 'm'), own);
      assert.doesNotMatch(own, /\tweb |\tother /, "another container's name");
      assert.equal(readFileSync(shared, 'utf8'), before, 'the shared hosts file is unchanged');
      assert.doesNotMatch(ok('exec', 'other', 'cat', '/etc/hosts'), /\tiso /);
    } finally {
      ok('rm', '-f', 'iso');
    }
    assert.equal(readFileSync(shared, 'utf8'), before, 'its removal leaves the shared file alone too');
    assertGone(id);
  });

  it('publishes every EXPOSEd port with -P on a free host port', async () => {
    const rootfs = join(roots.root, '..', 'httpd-rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'www'), { recursive: true });
    copyFileSync('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'httpd']) symlinkSync('busybox', join(rootfs, 'bin', applet));
    writeFileSync(join(rootfs, 'www', 'index.html'), 'exposed\n');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\n');
    ok(
      'image',
      'import',
      '--change',
      'EXPOSE 80',
      '--change',
      'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]',
      rootfs,
      'exposer:1',
    );
    ok('run', '-d', '--name', 'pall', '-P', 'exposer:1');
    const mapping = ok('port', 'pall', '80/tcp').trim();
    const port = Number(/^0\.0\.0\.0:(\d+)$/.exec(mapping)?.[1]);
    assert.ok(port >= 1024, mapping);
    assert.equal(await until('the -P port', fetchText(`http://127.0.0.1:${port}/`)), 'exposed\n');
    assert.equal(
      ok('inspect', '-f', '{{json .HostConfig.PortBindings}}', 'pall'),
      '{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":""}]}\n',
    );
  });

  it('--network none has only lo; --network host sees the host interfaces', () => {
    const none = ok('run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link');
    assert.deepEqual(
      none
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]?.trim()),
      ['lo'],
    );
    const host = ok('run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link');
    for (const name of readdirSync('/sys/class/net').filter((n) => !n.startsWith('pv'))) {
      assert.match(host, new RegExp(`: ${name.replace(/\./g, '\\.')}[:@]`), `host interface ${name}`);
    }
  });

  describe('bad port specs: a docker-like error, exit 125, nothing left behind', () => {
    const cases: Array<[string, () => Promise<string>, RegExp]> = [
      ['a non-numeric container port', async () => 'x', /invalid containerPort: x/],
      ['a host port out of range', async () => '70000:80', /invalid hostPort: 70000/],
      ['a bad protocol', async () => '80/icmp', /invalid proto: icmp/],
      [
        'a port another container publishes',
        async () => {
          const mapping = ok('port', 'web', '80').trim(); // 127.0.0.1:PORT from the first test
          return `${mapping}:80`;
        },
        /Bind for 127\.0\.0\.1:\d+ failed: port is already allocated/,
      ],
    ];
    for (const [what, spec, message] of cases) {
      it(`refuses ${what}`, async () => {
        const before = { ps: ok('ps', '-aq'), rules: bridgeRules(), leases: Object.keys(leases()) };
        const r = run('run', '-d', '-p', await spec(), 'busybox', 'sleep', '300');
        assert.equal(r.status, 125, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(ok('ps', '-aq'), before.ps);
        assert.deepEqual(bridgeRules(), before.rules);
        assert.deepEqual(Object.keys(leases()), before.leases);
      });
    }
  });

  it('stop and rm tear everything down: netns, veth, rules, lease', () => {
    const ids = ['web', 'other', 'pall'].map((n) => ok('inspect', '-f', '{{.Id}}', n).trim());
    ok('stop', '-t', '0', 'other');
    assertGone(ids[1] ?? '');
    ok('rm', '-f', 'web', 'other', 'pall');
    for (const id of ids) assertGone(id);
  });

  it('a container that exited by itself gets a fresh network on start', async () => {
    const port = await freePort();
    const id = ok(
      'run',
      '-d',
      '--name',
      'phoenix',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'sh',
      '-c',
      'exit 3',
    ).trim();
    await until('the exit', () =>
      ok('inspect', '-f', '{{.State.Status}}', 'phoenix') === 'exited\n' ? true : undefined,
    );
    assert.match(netnsList(), new RegExp(`paas-${id.slice(0, 12)}`), 'no daemon saw it exit: the netns is still there');
    ok('start', 'phoenix');
    const count = rules()
      .split('\n')
      .filter((l) => l.includes(`paas:${id}`)).length;
    assert.equal(count, 1, 'the old rule was replaced, not duplicated');
    ok('rm', '-f', 'phoenix');
    assertGone(id);
  });

  it('repairs after a crash: shim and container SIGKILLed, then rm -f', async () => {
    const port = await freePort();
    const id = ok('run', '-d', '--name', 'crash', '-p', `127.0.0.1:${port}:80`, 'busybox', ...HTTPD).trim();
    await until('httpd', fetchText(`http://127.0.0.1:${port}/`));
    const dir = join(roots.root, 'containers', id);
    const shim = Number(readFileSync(join(dir, 'shim', 'shim.pid'), 'utf8'));
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'crash'));
    process.kill(pid, 'SIGKILL');
    process.kill(shim, 'SIGKILL');
    writeFileSync(join(dir, 'lock'), '999999999\n'); // a lock its dead holder never released
    ok('rm', '-f', 'crash');
    assertGone(id);
  });

  it('repairs after a crash that lost the container itself: network prune reclaims its lease', async () => {
    const port = await freePort();
    const id = ok('run', '-d', '--name', 'lost', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300').trim();
    const dir = join(roots.root, 'containers', id);
    const shim = Number(readFileSync(join(dir, 'shim', 'shim.pid'), 'utf8'));
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'lost'));
    process.kill(pid, 'SIGKILL');
    process.kill(shim, 'SIGKILL');
    execFileSync('umount', ['-l', join(dir, 'rootfs')]);
    execFileSync('rm', ['-rf', dir]);
    assert.match(rules(), new RegExp(`paas:${id}`));
    const prune = run('network', 'prune');
    assert.equal(prune.status, 0, prune.stderr);
    assert.match(prune.stderr, new RegExp(`Released the network of container ${id.slice(0, 12)}`));
    assertGone(id);
    ok('container', 'prune', '-f'); // the runtime's own leftovers: its state and cgroup
    assert.equal(existsSync(join(roots.run, 'runtime', id)), false);
  });
});
