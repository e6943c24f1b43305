/**
 * `paas build` RUN steps on the network, through the real CLI, runtime and bridge: a step
 * reaches an HTTP server in "the internet" (a network namespace of the test's own behind a
 * veth, with no default route out and no resolver, reached by IP through the host's routing
 * and the bridge's NAT), `--network none` does not, `--network host` is refused, the step's
 * resolv.conf holds only nameservers it can reach. After every build, finished, failed,
 * interrupted (SIGINT) or killed (SIGKILL, then the next build), nothing of the step is
 * left on the bridge: no lease, netns, veth or rule.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PAAS, cliFor, isAlive, mountsUnder, tempRoots } from '../support/cli';
import { type Internet, createInternet, removeInternet } from '../support/internet';
import { buildStepsRootOf } from '@paas/builder';

const roots = tempRoots();
const { run, ok } = cliFor(roots.env);
const bridge = roots.env.PAAS_BRIDGE ?? '';
// "the internet": a /30 of the test's own in 198.19.0.0/16 (the half of the benchmarking
// range e2e/security/network.spec.ts does not use), picked from the pid
const tag = process.pid % 10_000_000;
const prefix = `198.19.${(process.pid >> 6) & 255}.${(process.pid & 63) << 2}`;
const hostEnd = prefix.replace(/\d+$/, (d) => String(Number(d) + 1));
const internetIp = prefix.replace(/\d+$/, (d) => String(Number(d) + 2));
const internet: Internet = { ns: `paas-in${tag}`, veth: `pi${tag}`, hostEnd, ip: internetIp };

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const trySh = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
};

let server: ChildProcess | undefined;
let port = 0;
let requests = '';

function context(dockerfile: string): string {
  const dir = mkdtempSync(join(roots.root, '..', 'ctx-'));
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** The step ids a build's output names (`Running in <12 hex>`). */
const stepIds = (output: string): string[] => [...output.matchAll(/Running in ([0-9a-f]{12})/g)].map((m) => m[1] ?? '');

/** What the bridge holds beyond the anchor container: leases, veths, namespaces of the steps, tagged rules. */
function leftOnBridge(anchor: string, steps: readonly string[]): Record<string, string[]> {
  const file = join(roots.run, 'network', bridge, 'leases.json');
  const leases = existsSync(file)
    ? Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { leases: Record<string, unknown> }).leases)
    : [];
  const veths = sh('ip', ['-o', 'link', 'show', 'master', bridge])
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((name) => name && name !== `pv${anchor.slice(0, 12)}`);
  const rules = ['filter', 'nat']
    .flatMap((t) => sh('iptables-save', ['-t', t]).split('\n'))
    // this bridge's rules only: other specs' bridges may be busy meanwhile
    .filter((l) => /--comment "?paas:/.test(l) && l.includes(bridge) && !l.includes(anchor));
  return {
    leases: leases.filter((id) => id !== anchor),
    veths,
    namespaces: steps.filter((s) => existsSync(`/run/netns/paas-${s}`)),
    rules,
    steps: readdirSync(buildStepsRootOf(roots.root)),
    runtime: readdirSync(join(roots.run, 'runtime')).filter((n) => n.startsWith('build-')),
  };
}
const NOTHING = { leases: [], veths: [], namespaces: [], rules: [], steps: [], runtime: [] };

describe('paas build --network', () => {
  let anchor = '';

  before(async () => {
    ok('image', 'bootstrap', 'busybox');
    createInternet(internet);
    // bound to its address, never looking a name up; logs each request's path
    const script =
      `const s=require('http').createServer((q,r)=>{console.log('GET '+q.url);r.end('from-the-internet\\n')});` +
      `s.listen(0,'${internetIp}',()=>console.log('port '+s.address().port))`;
    server = spawn('ip', ['netns', 'exec', internet.ns, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    port = await new Promise<number>((resolve, reject) => {
      server?.once('exit', (code) => reject(new Error(`the server exited ${code}`)));
      server?.stdout?.on('data', (d: Buffer) => {
        requests += d.toString();
        const m = /port (\d+)/.exec(requests);
        if (m) resolve(Number(m[1]));
      });
    });
    // the bridge exists once a container is on it; then it forwards (a node's ip_forward,
    // which the test's roots leave off) so that outbound NAT works at all
    anchor = ok('run', '-d', '--name', 'anchor', 'busybox', 'sleep', '600').trim();
    writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${internet.veth}/forwarding`, '1');
  });

  after(() => {
    if (server?.pid) trySh('kill', [String(server.pid)]);
    run('rm', '-f', 'anchor');
    run('network', 'prune');
    removeInternet(internet);
    const mounts = mountsUnder(roots.root);
    roots.cleanup();
    assert.deepEqual(mounts, [], 'mounts left');
    assert.doesNotMatch(sh('iptables-save', []), new RegExp(`paas-bridge:${bridge}\\b`), 'bridge rules left');
  });

  it('a RUN step reaches a server on the internet through the bridge; nothing of it stays', async () => {
    const dir = context(`FROM busybox\nRUN wget -q -O - http://${internetIp}:${port}/x\n`);
    const r = run('build', '--no-cache', dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /from-the-internet/);
    // the server's log comes through this process's event loop, which spawnSync held
    for (let i = 0; i < 100 && !requests.includes('GET /x'); i++) await new Promise((res) => setTimeout(res, 20));
    assert.match(requests, /GET \/x/);
    assert.deepEqual(leftOnBridge(anchor, stepIds(r.stdout)), NOTHING);
  });

  it('--network none: the step has loopback only, and the cache key is the same', () => {
    const dockerfile = `FROM busybox\nRUN wget -q -O - http://${internetIp}:${port}/none || echo unreachable\n`;
    const r = run('build', '--network', 'none', context(dockerfile));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /unreachable/);
    assert.doesNotMatch(r.stdout, /from-the-internet/);
    assert.doesNotMatch(requests, /GET \/none/);
    const again = run('build', '--network', 'default', context(dockerfile));
    assert.match(again.stdout, /Using cache/, 'the network mode is not part of the cache key');
  });

  it('--network host and unknown networks are refused before anything runs', () => {
    const dir = context('FROM busybox\nRUN true\n');
    const host = run('build', '--network', 'host', dir);
    assert.equal(host.status, 125);
    assert.match(host.stderr, /--network host is not supported: build steps never share the host network/);
    const other = run('build', '--network', 'nope', dir);
    assert.equal(other.status, 125);
    assert.match(other.stderr, /network nope not found/);
  });

  it("gives the step the host's nameservers it can reach, or Docker's fallbacks", () => {
    const r = run('build', '--no-cache', context('FROM busybox\nRUN cat /etc/resolv.conf\n'));
    assert.equal(r.status, 0, r.stderr);
    const servers = [...r.stdout.matchAll(/^nameserver (\S+)$/gm)].map((m) => m[1] ?? '');
    assert.ok(servers.length > 0, r.stdout);
    const hostAddresses = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
    for (const server of servers) {
      assert.doesNotMatch(server, /^127\.|:/, `unreachable nameserver ${server}`);
      assert.ok(!hostAddresses.includes(server), `the host's own address ${server} is walled off`);
    }
    const hostServers = [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^\s*nameserver\s+(\S+)/gm)]
      .map((m) => m[1] ?? '')
      .filter((s) => !/^127\.|:/.test(s) && !hostAddresses.includes(s));
    assert.deepEqual(servers, hostServers.length ? hostServers : ['8.8.8.8', '8.8.4.4']);
  });

  it('a failed step and an interrupted build leave nothing on the bridge', async (t) => {
    const failed = run('build', '--no-cache', context('FROM busybox\nRUN exit 7\n'));
    assert.equal(failed.status, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout + failed.stderr, /returned a non-zero code: 7/);
    assert.deepEqual(leftOnBridge(anchor, stepIds(failed.stdout)), NOTHING);

    const child = spawn(PAAS, ['build', '--no-cache', context('FROM busybox\nRUN echo started; sleep 60\n')], {
      env: roots.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    // the RUN's own line: "started" is in the step line too, printed before the step attaches
    for (let i = 0; i < 600 && !/^started$/m.test(output); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(output, /^started$/m);
    assert.ok(
      stepIds(output).some((s) => existsSync(`/run/netns/paas-${s}`)),
      'the step was on the bridge',
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130, output);
    assert.deepEqual(leftOnBridge(anchor, stepIds(output)), NOTHING);
  });

  it("a killed build's step network is reclaimed by the next build", async (t) => {
    const child = spawn(PAAS, ['build', '--no-cache', context('FROM busybox\nRUN echo started; sleep 60\n')], {
      env: roots.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    for (let i = 0; i < 600 && !/^started$/m.test(output); i++) await new Promise((r) => setTimeout(r, 50));
    const steps = stepIds(output);
    assert.ok(
      steps.some((s) => existsSync(`/run/netns/paas-${s}`)),
      `${output}\n${sh('ip', ['netns', 'list'])}`,
    );
    child.kill('SIGKILL');
    await exited;
    assert.ok(child.pid !== undefined && !isAlive(child.pid));
    const next = run('build', '--no-cache', context('FROM busybox\nRUN true\n'));
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual(leftOnBridge(anchor, [...steps, ...stepIds(next.stdout)]), NOTHING);
  });
});

// the step dirs live below PAAS_ROOT; make sure the listing works before the first build
mkdirSync(buildStepsRootOf(roots.root), { recursive: true });
mkdirSync(join(roots.run, 'runtime'), { recursive: true });
