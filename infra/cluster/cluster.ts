/**
 * A multi-node cluster on one machine, for tests and demos: N nodes as network namespaces on
 * a bridge of their own, each a "machine" that joins the platform as a user's machine does
 * (docs/operations.md "Adding a machine"): the operator's CLI makes a join token
 * (`paas nodes:join-token`), and `paas node join URL --token T --ca-hash H --name NAME
 * --address IP` runs inside the node's namespace with the node's own PAAS_ROOT, PAAS_RUN,
 * container bridge and subnet. That join is the node's long-running process: it pins the
 * platform CA, gets the node's own credential, the registry and its pull-only login from the
 * api, and runs the agent in the foreground (`paas node up` runs it again later). Nothing is
 * handed to a node by this file beyond its roots, its bridge and the printed command.
 *
 *   host                                    node i (netns pcl-NAME-nI)
 *   bridge pclNAME  GW = x.y.z.1/24  <-veth->  eth0 x.y.z.(10+i)/24, default via GW
 *     api, registry listen on GW (https)      paas node join|up (ip netns exec) -> its agent
 *                                             bridge pnode0 with the node's containers
 *
 * Instances publish their port on the node's address, so a router on the host reaches them at
 * NODE_IP:PORT. Names never collide with paas0 nor the e2e bridges (paast*, pa*r*): everything
 * here is `pcl…`, in the subnets the caller gives.
 *
 * `ip netns exec` gives the node a mount namespace of its own with /sys remounted for the
 * node's network namespace, which hides the cgroup hierarchies: they are mounted again there
 * (the same hierarchies, by the same options), so the runtime finds them.
 *
 * Everything made is written to `state.json` in the state directory *before* it is made, so
 * `down` removes exactly that — each node's `paas node join|up` (by pid: it stops its agent
 * and its app instances), what a killed one left (the agent's own cleanup, inside the
 * namespace), namespaces, veths, the bridge and the directories — even after a crash.
 *
 *   node --import tsx infra/cluster/cluster.ts up N [--name NAME] [--subnet CIDR] [--state DIR]
 *   node --import tsx infra/cluster/cluster.ts join [--name NAME] [--api-addr HOST:PORT] [--root DIR] [--state DIR]
 *   node --import tsx infra/cluster/cluster.ts down [--name NAME] [--state DIR]
 *
 * `up` makes the nodes' network (the api must listen on its gateway, so it starts after);
 * `join` joins every node not running yet (and starts again those that joined), as the operator
 * on the control plane's machine: `paas` with that `paas up`'s PAAS_ROOT (DIR) and
 * PAAS_API_ADDR (default GATEWAY:7000) uses its admin token and trusts its CA.
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
  /**
   * Environment of every node's `paas node join|up`, which its agent inherits, besides its
   * roots and bridge: tuning only (PAAS_NODE_MEMORY, PAAS_STOP_TIMEOUT...). What the agent
   * needs of the control plane (the api's URL, CA, credential, registry) comes from the join.
   */
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
  /** The node's `paas node join|up` (its process group holds its agent). */
  pid: number | null;
}

/** The operator of the control plane, as their CLI reaches the api (`paas nodes:join-token`). */
export interface Operator {
  /**
   * The CLI's environment: on the control plane's machine its PAAS_ROOT and PAAS_API_ADDR
   * (the local admin token, the CA under the root); elsewhere PAAS_API_URL, PAAS_API_TOKEN (an
   * admin's) and PAAS_CA_FILE.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The api as the nodes reach it (`--api-url`); default: the api the CLI talks to. */
  readonly apiUrl?: string;
}

interface State {
  version: 1;
  name: string;
  bridge: string;
  gateway: string;
  stateDir: string;
  nodes: ClusterNode[];
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
  // nothing secret in it (the nodes' credentials are under their roots), but nobody else's
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

/** A node's environment: its roots and bridge, as a machine of its own would have them. */
function nodeEnv(state: State, node: ClusterNode): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...state.env,
    HOME: join(node.root, '..'),
    PAAS_ROOT: node.root,
    PAAS_RUN: node.run,
    PAAS_BRIDGE: 'pnode0',
    PAAS_SUBNET: node.subnet,
    PAAS_IP_FORWARD: '1',
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

/** bin/paas, on the bundles in dist/ (the CLI's `node join|up` forks dist/apps/agent/main.js). */
export const PAAS = join(REPO, 'bin', 'paas');

/** The agent bundle's `cleanup`: a node's containers and bridge, after its `paas node join|up` died. */
const AGENT_CLEANUP = [process.execPath, join(REPO, 'dist', 'apps', 'agent', 'main.js'), 'cleanup'];

/** Runs bin/paas on the host (without blocking: the api may run in this very process). */
function paasOnHost(args: readonly string[], env: Readonly<Record<string, string>>): Promise<string> {
  return new Promise((resolvePaas, reject) => {
    const child = spawn(PAAS, args, {
      env: { PATH: process.env['PATH'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePaas(stdout);
      else reject(new Error(`paas ${args.join(' ')} failed (${signal ?? code}): ${(stderr || stdout).trim()}`));
    });
  });
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
   * The join command the operator's CLI prints (`paas nodes:join-token`), as argv after `paas`:
   * `node join URL --token T --ca-hash H`. One token per machine: it is spent by the join.
   */
  async joinCommand(operator: Operator): Promise<string[]> {
    const apiUrl = operator.apiUrl ?? operator.env['PAAS_API_URL'];
    const out = await paasOnHost(['nodes:join-token', ...(apiUrl ? ['--api-url', apiUrl] : [])], operator.env);
    const line = out.split('\n').find((l) => l.startsWith('paas node join '));
    if (!line) throw new Error(`paas nodes:join-token printed no join command:\n${out}`);
    return line.trim().split(/\s+/).slice(1);
  }

  /**
   * Joins node `index` with the documented command: a join token from the operator's CLI,
   * then `paas node join ... --name NAME --address IP` in the node, which then runs its agent.
   * Resolves with the join's pid once the node is up (registered with the api), or at once
   * with `wait: false`; rejects with the end of its log if it exits first.
   */
  async join(index: number, operator: Operator, options: { timeoutMs?: number; wait?: boolean } = {}): Promise<number> {
    const node = this.node(index);
    const command = await this.joinCommand(operator);
    return this.launch(node, [...command, '--name', node.name, '--address', node.ip], options);
  }

  /** Whether node `index` joined (its `paas node join` saved its settings under its root). */
  joined(index: number): boolean {
    return existsSync(join(this.node(index).root, 'node', 'node.json'));
  }

  /**
   * Starts node `index` again after it joined: `paas node up`, from the settings the join saved
   * (its instances, if they outlived it, are adopted). Resolves as `join` does.
   */
  async startAgent(index: number, options: { timeoutMs?: number; wait?: boolean } = {}): Promise<number> {
    const node = this.node(index);
    if (!this.joined(index)) throw new Error(`${node.name} has not joined: join it first`);
    return this.launch(node, ['node', 'up'], options);
  }

  private async launch(
    node: ClusterNode,
    args: readonly string[],
    options: { timeoutMs?: number; wait?: boolean },
  ): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    if (node.pid !== null && alive(node.pid)) throw new Error(`${node.name} runs already (pid ${node.pid})`);
    const offset = this.agentLog(node.index).length;
    const fd = openSync(node.log, 'a');
    const child = inNode(this.state, node, [PAAS, ...args], fd);
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start paas ${args[0]} ${args[1]} on ${node.name}`);
    node.pid = child.pid;
    save(this.state);
    child.unref();
    if (options.wait === false) return child.pid;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `paas ${args[0]} ${args[1]} on ${node.name} exited (${signal ?? code}):\n${this.agentLog(node.index).slice(-3000)}`,
          ),
        ),
      ),
    );
    const deadline = Date.now() + timeoutMs;
    const ready = (async () => {
      // what `paas node join|up` prints once its agent registered
      while (!this.agentLog(node.index).slice(offset).includes(`node ${node.name} is up, registered with`)) {
        if (Date.now() > deadline)
          throw new Error(`${node.name} is not up after ${timeoutMs} ms:\n${this.agentLog(node.index).slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // an exit after it came up (or after it timed out) is no rejection left unhandled
    exited.catch(() => undefined);
    await Promise.race([ready, exited]);
    return child.pid;
  }

  agentLog(index: number): string {
    try {
      return readFileSync(this.node(index).log, 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * SIGKILLs node `index`'s `paas node join|up` and its agent (their process group; the shims
   * have sessions of their own): its containers keep running.
   */
  async killAgent(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(index);
    if (node.pid === null) return;
    const pid = node.pid;
    if (this.owns(node, pid)) process.kill(-pid, signal);
    for (let i = 0; i < 200 && groupMembers(pid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
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

  /** Whether `pid` is the `paas node join|up` of `node` (and not a reused pid). */
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
    // as Ctrl-C does: each stops its agent, then its app instances
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
      for (let i = 0; i < 600 && node.pid !== null && alive(node.pid) && this.owns(node, node.pid); i++)
        execFileSync('sleep', ['0.05']);
      if (node.pid !== null && alive(node.pid) && this.owns(node, node.pid)) {
        log(`${node.name}: paas node join|up did not stop within 30 s; killed`);
        process.kill(-node.pid, 'SIGKILL');
      }
      node.pid = null;
    }
    for (const node of state.nodes) {
      if (!existsSync(`/run/netns/${node.netns}`)) continue;
      // the node's containers, through the engine, inside the namespace: shims, cgroups, veths, mounts
      const cleanup = spawnSyncIn(state, node, AGENT_CLEANUP);
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
      // the agent's config wants a node name (the host's may not be one)
      env: { ...nodeEnv(state, node), PAAS_NODE_NAME: node.name },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    return '';
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    return `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim() || e.message;
  }
}

/** The live processes of process group `pgid` (a node's `paas node join|up` and its agent). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
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

const USAGE = `usage: cluster.ts up N [--name NAME] [--subnet A.B.C.0/24] [--state DIR]
       cluster.ts join [--name NAME] [--api-addr HOST:PORT] [--root DIR] [--state DIR]
       cluster.ts down [--name NAME] [--state DIR]`;

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
  if (command === 'join') {
    const cluster = Cluster.open(stateDir);
    if (!cluster) throw new Error(`no cluster in ${stateDir}: cluster.ts up N first`);
    // the operator on the control plane's machine, with `paas up`'s settings: the CLI talks
    // https to that api (trusting the CA under ROOT) with the local admin token
    const operator: Operator = {
      env: {
        PAAS_ROOT: flag(args, '--root', '/var/lib/paas'),
        PAAS_API_ADDR: flag(args, '--api-addr', `${cluster.gateway}:7000`),
      },
    };
    for (const node of cluster.nodes) {
      if (node.pid !== null && alive(node.pid)) continue;
      const pid = cluster.joined(node.index)
        ? await cluster.startAgent(node.index)
        : await cluster.join(node.index, operator);
      console.log(`${node.name}  ${node.ip}  netns ${node.netns}  paas node pid ${pid}  log ${node.log}`);
    }
    return;
  }
  if (command !== 'up' || !count || !/^\d+$/.test(count)) {
    console.error(USAGE);
    process.exit(2);
  }
  const subnet = flag(args, '--subnet', '10.231.0.0/24');
  const { gateway } = parse24(subnet);
  const [a = '10', b = '231', c = '0'] = subnet.split('.');
  const cluster = Cluster.create(
    {
      name,
      subnet,
      stateDir,
      nodeSubnet: (i) => `${a}.${Number(b) + 1}.${(Number(c) % 32) * 8 + i - 1}.0/24`,
      agentEnv: {},
    },
    Number(count),
  );
  for (const node of cluster.nodes) console.log(`${node.name}  ${node.ip}  netns ${node.netns}`);
  console.log(
    `cluster ${name}: ${count} nodes on bridge ${cluster.bridge}. Start the control plane on ${gateway}, then join the nodes:\n` +
      `  PAAS_API_ADDR=${gateway}:7000 PAAS_REGISTRY_ADDR=${gateway}:5000 PAAS_NODE_REGISTRY_ADDR=${gateway}:5000 bin/paas up\n` +
      `  infra/cluster/cluster join --name ${name}${stateDir === `/run/paas-cluster/${name}` ? '' : ` --state ${stateDir}`}`,
  );
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`cluster: ${(err as Error).message}`);
    process.exit(1);
  });
}
