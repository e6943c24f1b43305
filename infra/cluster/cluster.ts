/**
 * A multi-node cluster on one machine, for tests and demos: N nodes as network namespaces on
 * a bridge of their own, each running an agent (apps/agent) with its own PAAS_ROOT, PAAS_RUN,
 * container bridge and subnet inside its namespace.
 *
 *   host                                    node i (netns pcl-NAME-nI)
 *   bridge pclNAME  GW = x.y.z.1/24  <-veth->  eth0 x.y.z.(10+i)/24, default via GW
 *     api, registry listen on GW              agent (ip netns exec), PAAS_NODE_ADDRESS = its eth0
 *     redis on its unix socket (shared fs)    bridge pnode0 with the node's containers
 *
 * Instances publish their port on the node's address, so a router on the host reaches them at
 * NODE_IP:PORT. Names never collide with paas0 nor the e2e bridges (paast*, pa*r*): everything
 * here is `pcl…`, in the subnets the caller gives.
 *
 * `ip netns exec` gives the agent a mount namespace of its own with /sys remounted for the
 * node's network namespace, which hides the cgroup hierarchies: they are mounted again there
 * (the same hierarchies, by the same options), so the runtime finds them.
 *
 * Everything made is written to `state.json` in the state directory *before* it is made, so
 * `down` removes exactly that — agents (by pid), containers (through the agent's own cleanup,
 * inside the namespace), namespaces, veths, the bridge and the directories — even after a crash.
 *
 * The platform registry takes tokens only (beyond loopback it must): `up` makes the platform's
 * registry logins under the control plane's root (`--root`, the PAAS_ROOT `paas up` will use;
 * the same logins `paas up` makes, made once) and gives the agents the nodes' pull-only one.
 * Likewise the platform CA (the api off loopback serves https with a leaf of it): the agents
 * trust it through PAAS_CA_FILE.
 *
 *   node --import tsx infra/cluster/cluster.ts up N [--name NAME] [--subnet CIDR] [--api URL]
 *        [--registry HOST:PORT] [--redis URL] [--token TOKEN] [--root DIR] [--state DIR]
 *
 * TOKEN is the agents' node token (`paas tokens:create cluster --node`): agents never need
 * the admin token.
 *   node --import tsx infra/cluster/cluster.ts down [--name NAME] [--state DIR]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  lstatSync,
  rmSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { platformTlsDirectory } from '@paas/config';
import { ensurePlatformCa } from '@paas/platform';
import { ensurePlatformRegistryUsers } from '@paas/registry';

export const REPO = resolve(__dirname, '..', '..');

export interface ClusterSpec {
  /** 1-6 lower-case letters and digits: part of every name made. */
  readonly name: string;
  /** The nodes' /24 on the host bridge, e.g. `10.231.7.0/24` (gateway .1, node i at .10+i). */
  readonly subnet: string;
  /** Where state.json, node roots and agent logs go. */
  readonly stateDir: string;
  /** Each node's container subnet (a /24 of its own). */
  readonly nodeSubnet: (index: number) => string;
  /** How an agent is started (argv); default: node with tsx on apps/agent/src/main.ts. */
  readonly agentCommand?: readonly string[];
  /** Environment of every agent: PAAS_API_URL, PAAS_API_TOKEN, PAAS_REGISTRY_ADDR, REDIS_URL... */
  readonly agentEnv: Readonly<Record<string, string>>;
  readonly nodeMemory?: number;
  readonly nodeCpus?: number;
}

export interface ClusterNode {
  readonly index: number;
  /** The node's name as agents register it: `NAME-n1`. */
  readonly name: string;
  readonly netns: string;
  readonly veth: string;
  readonly ip: string;
  readonly root: string;
  readonly run: string;
  readonly subnet: string;
  readonly log: string;
  pid: number | null;
}

interface State {
  version: 1;
  name: string;
  bridge: string;
  gateway: string;
  stateDir: string;
  nodes: ClusterNode[];
  agentCommand: string[];
  env: Record<string, string>;
}

const NAME = /^[a-z0-9]{1,6}$/;

function sh(cmd: string, args: readonly string[], options: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      input: options.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (err) {
    if (options.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

function parse24(cidr: string): { prefix: string; gateway: string } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(cidr);
  if (!m || [m[1], m[2], m[3]].some((x) => Number(x) > 255)) throw new Error(`${cidr}: expected A.B.C.0/24`);
  const prefix = `${m[1]}.${m[2]}.${m[3]}`;
  return { prefix, gateway: `${prefix}.1` };
}

export function bridgeName(name: string): string {
  return `pcl${name}`;
}

function statePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

function save(state: State): void {
  mkdirSync(state.stateDir, { recursive: true });
  const tmp = `${statePath(state.stateDir)}.tmp`;
  // the agents' environment holds their api token and registry login
  writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  execFileSync('mv', [tmp, statePath(state.stateDir)]);
}

function load(stateDir: string): State | null {
  try {
    return JSON.parse(readFileSync(statePath(stateDir), 'utf8')) as State;
  } catch {
    return null;
  }
}

/**
 * Shell lines that mount the host's cgroup hierarchies again at /sys/fs/cgroup (run inside
 * `ip netns exec`, whose fresh /sys hides them), read from this process's mountinfo.
 */
export function cgroupMounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const lines: string[] = [];
  const mounts = mountinfo
    .split('\n')
    .map((line) => {
      const [left, right] = line.split(' - ');
      const point = left?.split(' ')[4] ?? '';
      const [fstype = '', , superOptions = ''] = (right ?? '').split(' ');
      return { point, fstype, options: superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro') };
    })
    .filter((m) => m.point === '/sys/fs/cgroup' || m.point.startsWith('/sys/fs/cgroup/'));
  const top = mounts.find((m) => m.point === '/sys/fs/cgroup');
  if (!top) return lines;
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  if (top.fstype === 'cgroup2') {
    lines.push(`mount -t cgroup2 ${top.options.length ? `-o ${q(top.options.join(','))} ` : ''}cgroup2 /sys/fs/cgroup`);
    return lines;
  }
  lines.push('mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup');
  for (const m of mounts) {
    if (m.point === '/sys/fs/cgroup') continue;
    lines.push(`mkdir -p ${q(m.point)}`);
    if (m.fstype === 'cgroup2') {
      lines.push(`mount -t cgroup2 ${m.options.length ? `-o ${q(m.options.join(','))} ` : ''}cgroup2 ${q(m.point)}`);
    } else if (m.fstype === 'cgroup') {
      const named = m.options.every((o) => o.startsWith('name=') || o === 'xattr' || o === 'clone_children');
      lines.push(
        `mount -t cgroup -o ${q((named ? ['none', ...m.options] : m.options).join(','))} cgroup ${q(m.point)}`,
      );
    }
  }
  // systemd's cpu -> cpu,cpuacct style links
  for (const entry of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    const path = join('/sys/fs/cgroup', entry);
    try {
      if (lstatSync(path).isSymbolicLink()) lines.push(`ln -sfn ${q(readlinkSync(path))} ${q(path)}`);
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

function nodeEnv(state: State, node: ClusterNode): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...state.env,
    PAAS_ROOT: node.root,
    PAAS_RUN: node.run,
    PAAS_BRIDGE: 'pnode0',
    PAAS_SUBNET: node.subnet,
    PAAS_IP_FORWARD: '1',
    PAAS_NODE_NAME: node.name,
    PAAS_NODE_ADDRESS: node.ip,
  };
}

/** Runs `argv` inside the node's namespace with the cgroups mounted; the child (not waited for). */
function inNode(
  state: State,
  node: ClusterNode,
  argv: readonly string[],
  out: number | 'inherit' | 'ignore',
): ChildProcess {
  const script = [...cgroupMounts(), 'exec "$@"'].join(' && ');
  return spawn('ip', ['netns', 'exec', node.netns, '/bin/sh', '-c', script, 'sh', ...argv], {
    cwd: REPO,
    env: nodeEnv(state, node),
    stdio: ['ignore', out, out],
    detached: true,
  });
}

function defaultAgentCommand(): string[] {
  return [process.execPath, '--import', 'tsx', join(REPO, 'apps', 'agent', 'src', 'main.ts')];
}

export class Cluster {
  private constructor(private readonly state: State) {}

  get name(): string {
    return this.state.name;
  }

  get bridge(): string {
    return this.state.bridge;
  }

  /** The host's address on the cluster bridge, where api and registry listen. */
  get gateway(): string {
    return this.state.gateway;
  }

  get nodes(): readonly ClusterNode[] {
    return this.state.nodes;
  }

  /** Makes the bridge and the namespaces (no agents yet: `startAgent`). Removed again if anything fails. */
  static create(spec: ClusterSpec, count: number): Cluster {
    if (!NAME.test(spec.name)) throw new Error(`cluster name ${JSON.stringify(spec.name)}: 1-6 of [a-z0-9]`);
    if (count < 1 || count > 50) throw new Error(`${count} nodes: 1 to 50`);
    if (load(spec.stateDir)) throw new Error(`${spec.stateDir} holds a cluster already: run down first`);
    const { prefix, gateway } = parse24(spec.subnet);
    const state: State = {
      version: 1,
      name: spec.name,
      bridge: bridgeName(spec.name),
      gateway,
      stateDir: resolve(spec.stateDir),
      nodes: [],
      agentCommand: [...(spec.agentCommand ?? defaultAgentCommand())],
      env: {
        ...(spec.nodeMemory ? { PAAS_NODE_MEMORY: String(spec.nodeMemory) } : {}),
        ...(spec.nodeCpus ? { PAAS_NODE_CPUS: String(spec.nodeCpus) } : {}),
        ...spec.agentEnv,
      },
    };
    const cluster = new Cluster(state);
    try {
      save(state);
      if (existsSync(`/sys/class/net/${state.bridge}`)) throw new Error(`bridge ${state.bridge} exists already`);
      sh('ip', ['-batch', '-'], {
        input:
          [
            `link add ${state.bridge} type bridge`,
            `addr add ${gateway}/24 dev ${state.bridge}`,
            `link set ${state.bridge} up`,
          ].join('\n') + '\n',
      });
      for (let i = 1; i <= count; i++) {
        const dir = join(state.stateDir, `n${i}`);
        const node: ClusterNode = {
          index: i,
          name: `${spec.name}-n${i}`,
          netns: `pcl-${spec.name}-n${i}`,
          veth: `pcl${spec.name}v${i}`,
          ip: `${prefix}.${10 + i}`,
          root: join(dir, 'root'),
          run: join(dir, 'run'),
          subnet: spec.nodeSubnet(i),
          log: join(dir, 'agent.log'),
          pid: null,
        };
        state.nodes.push(node);
        save(state);
        mkdirSync(node.root, { recursive: true, mode: 0o711 });
        mkdirSync(node.run, { recursive: true, mode: 0o711 });
        sh('ip', ['netns', 'add', node.netns]);
        sh('ip', ['-batch', '-'], {
          input:
            [
              `link add ${node.veth} type veth peer name eth0 netns ${node.netns}`,
              `link set ${node.veth} master ${state.bridge} up`,
            ].join('\n') + '\n',
        });
        sh('ip', ['-n', node.netns, '-batch', '-'], {
          input:
            [
              'link set lo up',
              `addr add ${node.ip}/24 dev eth0`,
              'link set eth0 up',
              `route add default via ${gateway} dev eth0`,
            ].join('\n') + '\n',
        });
      }
      return cluster;
    } catch (err) {
      cluster.destroy();
      throw err;
    }
  }

  /** Adds to the agents' environment (for agents started from now on). */
  setAgentEnv(env: Readonly<Record<string, string>>): void {
    this.state.env = { ...this.state.env, ...env };
    save(this.state);
  }

  /** The cluster a state directory describes (for `down` from another process). */
  static open(stateDir: string): Cluster | null {
    const state = load(stateDir);
    return state ? new Cluster(state) : null;
  }

  /**
   * Starts node `index`'s agent; resolves with its pid once it said it is up (registered with
   * the api), or at once with `wait: false`. Rejects with the end of its log if it exits first.
   */
  async startAgent(index: number, options: { timeoutMs?: number; wait?: boolean } = {}): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const node = this.node(index);
    if (node.pid !== null && alive(node.pid))
      throw new Error(`the agent of ${node.name} runs already (pid ${node.pid})`);
    const offset = this.agentLog(index).length;
    const fd = openSync(node.log, 'a');
    const child = inNode(this.state, node, this.state.agentCommand, fd);
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start the agent of ${node.name}`);
    node.pid = child.pid;
    save(this.state);
    child.unref();
    if (options.wait === false) return child.pid;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(`the agent of ${node.name} exited (${signal ?? code}):\n${this.agentLog(index).slice(-3000)}`),
        ),
      ),
    );
    const deadline = Date.now() + timeoutMs;
    const ready = (async () => {
      while (!this.agentLog(index).slice(offset).includes(`node ${node.name} up:`)) {
        if (Date.now() > deadline)
          throw new Error(
            `the agent of ${node.name} is not up after ${timeoutMs} ms:\n${this.agentLog(index).slice(-3000)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.race([ready, exited]);
    exited.catch(() => undefined);
    return child.pid;
  }

  agentLog(index: number): string {
    try {
      return readFileSync(this.node(index).log, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGKILLs node `index`'s agent (its containers keep running). */
  async killAgent(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(index);
    if (node.pid === null) return;
    const pid = node.pid;
    if (this.owns(node, pid)) process.kill(pid, signal);
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    node.pid = null;
    save(this.state);
  }

  /**
   * SIGKILLs every process in node `index`'s namespace: its agent and the shims. Container
   * processes live in namespaces of their own and are killed by their recorded pids.
   */
  killNode(index: number): number[] {
    const node = this.node(index);
    const pids = new Set<number>();
    for (const pid of sh('ip', ['netns', 'pids', node.netns], { allowFail: true })
      .split('\n')
      .filter(Boolean)
      .map(Number))
      pids.add(pid);
    for (const pid of containerPids(node.root)) pids.add(pid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    node.pid = null;
    save(this.state);
    return [...pids];
  }

  private node(index: number): ClusterNode {
    const node = this.state.nodes.find((n) => n.index === index);
    if (!node) throw new Error(`no node ${index} in cluster ${this.state.name}`);
    return node;
  }

  /** Whether `pid` is the agent of `node` (and not a reused pid). */
  private owns(node: ClusterNode, pid: number): boolean {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PAAS_ROOT=${node.root}`);
    } catch {
      return false;
    }
  }

  /** Removes everything the cluster made; safe to run again, and after a crash. */
  destroy(log: (line: string) => void = () => undefined): void {
    const { state } = this;
    for (const node of state.nodes) {
      if (node.pid !== null && this.owns(node, node.pid)) {
        try {
          process.kill(node.pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    for (const node of state.nodes) {
      for (let i = 0; i < 100 && node.pid !== null && alive(node.pid) && this.owns(node, node.pid); i++)
        execFileSync('sleep', ['0.05']);
      if (node.pid !== null && alive(node.pid) && this.owns(node, node.pid)) process.kill(node.pid, 'SIGKILL');
      node.pid = null;
    }
    for (const node of state.nodes) {
      if (!existsSync(`/run/netns/${node.netns}`)) continue;
      // the node's containers, through the engine, inside the namespace: shims, cgroups, veths, mounts
      const cleanup = spawnSyncIn(state, node, [...state.agentCommand, 'cleanup']);
      if (cleanup) log(`cleanup of ${node.name}: ${cleanup}`);
      // anything left in the namespace is ours by construction
      for (const pid of sh('ip', ['netns', 'pids', node.netns], { allowFail: true })
        .split('\n')
        .filter(Boolean)
        .map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const pid of containerPids(node.root)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      sh('ip', ['netns', 'del', node.netns], { allowFail: true });
    }
    for (const node of state.nodes) sh('ip', ['link', 'del', node.veth], { allowFail: true });
    if (existsSync(`/sys/class/net/${state.bridge}`)) sh('ip', ['link', 'del', state.bridge], { allowFail: true });
    for (const node of state.nodes) removeNetnsFiles(node.root);
    for (const mount of mountsUnder(state.stateDir).reverse()) sh('umount', ['-l', mount], { allowFail: true });
    rmSync(state.stateDir, { recursive: true, force: true });
  }
}

function spawnSyncIn(state: State, node: ClusterNode, argv: readonly string[]): string {
  const script = [...cgroupMounts(), 'exec "$@"'].join(' && ');
  try {
    execFileSync('ip', ['netns', 'exec', node.netns, '/bin/sh', '-c', script, 'sh', ...argv], {
      cwd: REPO,
      env: nodeEnv(state, node),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    return '';
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    return `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim() || e.message;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The init pids and shim pids of the containers under a node's root, from their shims' records. */
function containerPids(root: string): number[] {
  const dir = join(root, 'containers');
  const pids: number[] = [];
  for (const id of existsSync(dir) ? readdirSync(dir) : []) {
    const shim = join(dir, id, 'shim');
    try {
      const status = JSON.parse(readFileSync(join(shim, 'status.json'), 'utf8')) as { pid?: number; shimPid?: number };
      for (const pid of [status.pid, status.shimPid]) if (pid && pid > 0 && belongsTo(pid, id)) pids.push(pid);
    } catch {
      // no status: never started
    }
  }
  return pids;
}

/** Whether `pid` is the shim of container `id` or a process in its cgroup (not a reused pid). */
function belongsTo(pid: number, id: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(id)) return true;
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id);
  } catch {
    return false;
  }
}

/** The /run/netns files of a node's containers (their mounts lived in the agents' mount namespaces). */
function removeNetnsFiles(root: string): void {
  const dir = join(root, 'containers');
  for (const id of existsSync(dir) ? readdirSync(dir) : []) {
    const file = `/run/netns/paas-${id.slice(0, 12)}`;
    if (!existsSync(file)) continue;
    sh('umount', ['-l', file], { allowFail: true });
    rmSync(file, { force: true });
  }
}

function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === path || p.startsWith(`${path}/`));
}

// ------------------------------------------------------------------------------------------ CLI

function flag(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? (args[at + 1] as string) : fallback;
}

async function cli(args: string[]): Promise<void> {
  const [command, count] = args;
  const name = flag(args, '--name', 'demo');
  const stateDir = flag(args, '--state', `/run/paas-cluster/${name}`);
  if (command === 'down') {
    const cluster = Cluster.open(stateDir);
    if (!cluster) {
      console.log(`no cluster in ${stateDir}`);
      return;
    }
    cluster.destroy((line) => console.error(line));
    console.log(`cluster ${name} removed`);
    return;
  }
  if (command !== 'up' || !count || !/^\d+$/.test(count)) {
    console.error(
      'usage: cluster.ts up N [--name NAME] [--subnet A.B.C.0/24] [--api URL] [--registry HOST:PORT] [--redis URL] [--token TOKEN] [--root DIR] [--state DIR]\n       cluster.ts down [--name NAME] [--state DIR]',
    );
    process.exit(2);
  }
  const subnet = flag(args, '--subnet', '10.231.0.0/24');
  const { gateway } = parse24(subnet);
  const [a = '10', b = '231', c = '0'] = subnet.split('.');
  const root = flag(args, '--root', '/var/lib/paas');
  const { node: login } = await ensurePlatformRegistryUsers(join(root, 'registry'), join(root, 'platform'));
  // the platform CA the api will serve https with (its first start would make the same one)
  const ca = await ensurePlatformCa(platformTlsDirectory(root));
  const cluster = Cluster.create(
    {
      name,
      subnet,
      stateDir,
      nodeSubnet: (i) => `${a}.${Number(b) + 1}.${(Number(c) % 32) * 8 + i - 1}.0/24`,
      agentEnv: {
        // off loopback the api serves https with a leaf of the platform CA under its root
        PAAS_API_URL: flag(args, '--api', `https://${gateway}:7000`),
        PAAS_CA_FILE: ca.certFile,
        PAAS_REGISTRY_ADDR: flag(args, '--registry', `${gateway}:5000`),
        REDIS_URL: flag(args, '--redis', 'unix:///var/lib/paas/platform/redis/redis.sock'),
        ...(args.includes('--token') ? { PAAS_API_TOKEN: flag(args, '--token', '') } : {}),
        PAAS_REGISTRY_USER: login.username,
        PAAS_REGISTRY_PASSWORD: login.password,
      },
    },
    Number(count),
  );
  try {
    for (const node of cluster.nodes) {
      // the agents wait for the api (they retry registering); their logs say when they are in
      const pid = await cluster.startAgent(node.index, { wait: false });
      console.log(`${node.name}  ${node.ip}  netns ${node.netns}  agent pid ${pid}  log ${node.log}`);
    }
  } catch (err) {
    cluster.destroy();
    throw err;
  }
  console.log(
    `cluster ${name} up on bridge ${cluster.bridge}: start the api and registry on ${gateway}, e.g.\n  PAAS_ROOT=${root} PAAS_API_ADDR=${gateway}:7000 PAAS_REGISTRY_ADDR=${gateway}:5000 npm run up`,
  );
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`cluster: ${(err as Error).message}`);
    process.exit(1);
  });
}
