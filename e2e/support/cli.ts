import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const WORKSPACE = resolve(__dirname, '..', '..');
export const PAAS = join(WORKSPACE, 'bin', 'paas');

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/paas to completion. */
export function paas(args: string[], env: NodeJS.ProcessEnv = process.env): Result {
  const r = spawnSync(PAAS, args, { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs bin/paas to completion without blocking this process: for specs that run the api in
 * the test process itself, which a synchronous run would keep from answering.
 */
export function paasAsync(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(PAAS, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

let bridges = 0;

/**
 * A container bridge of the test's own (`paast<pid>x<n>`, a /24 in 10.200.0.0/13 picked from
 * the pid), so tests never touch a real paas0 nor each other, with ip forwarding left alone.
 */
export function testBridge(): { PAAS_BRIDGE: string; PAAS_SUBNET: string; PAAS_IP_FORWARD: string } {
  const n = bridges++ % 8;
  const index = (process.pid % 256) * 8 + n;
  return {
    PAAS_BRIDGE: `paast${process.pid % 10_000_000}x${n}`,
    PAAS_SUBNET: `10.${200 + (index >> 8)}.${index & 255}.0/24`,
    PAAS_IP_FORWARD: '0',
  };
}

/** A temporary PAAS_ROOT and PAAS_RUN for one test, removed (with its bridge) by `cleanup`. */
export function tempRoots(): { env: NodeJS.ProcessEnv; root: string; run: string; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), 'paas-e2e-'));
  // searchable (not listable) by others, as /var/lib is: a container in a user namespace
  // (--userns=auto, the platform's default) reaches its bundle under the root as its own root
  chmodSync(base, 0o711);
  const root = join(base, 'root');
  const run = join(base, 'run');
  const env = {
    ...process.env,
    PAAS_ROOT: root,
    PAAS_RUN: run,
    PAAS_API_ADDR: '127.0.0.1:0',
    PAAS_REGISTRY_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADMIN_ADDR: '127.0.0.1:0',
    // `paas up`'s registry caches Docker Hub by default: tests stay off the internet
    PAAS_REGISTRY_PROXY_REMOTE: 'none',
    // the user namespace pool is reserved here, not in the host's /etc/subuid and /etc/subgid
    PAAS_SUBUID_FILE: join(base, 'subuid'),
    PAAS_SUBGID_FILE: join(base, 'subgid'),
    ...testBridge(),
  };
  return {
    root,
    run,
    env,
    cleanup: () => {
      if (existsSync(`/sys/class/net/${env.PAAS_BRIDGE}`)) paas(['network', 'prune'], env);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A long-running bin/paas process whose output is collected; resolves lines as they come. */
export class PaasProcess {
  readonly child: ChildProcess;
  output = '';
  /** The two streams apart, for tests that tell what went where. */
  stdout = '';
  stderr = '';
  private waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `wrapper`: a command bin/paas runs under, e.g. `ip netns exec NS` for another machine (it execs: one pid). */
  constructor(args: string[], env: NodeJS.ProcessEnv, wrapper: readonly string[] = []) {
    const [cmd = PAAS, ...rest] = [...wrapper, PAAS];
    this.child = spawn(cmd, [...rest, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer): void => {
      this.output += chunk.toString();
      this.waiters = this.waiters.filter((w) => {
        const m = this.output.match(w.pattern);
        if (m) w.resolve(m);
        return !m;
      });
    };
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      onData(chunk);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      onData(chunk);
    });
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => resolveExit({ code, signal })),
    );
  }

  /** Waits for the output to match, failing with the output so far after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const m = this.output.match(pattern);
    if (m) return Promise.resolve(m);
    return new Promise((resolveMatch, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${this.output}`)),
        timeoutMs,
      );
      void this.exited.then(() => {
        const late = this.output.match(pattern);
        if (!late) reject(new Error(`process exited before ${pattern}; output:\n${this.output}`));
      });
      this.waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolveMatch(match);
        },
      });
    });
  }

  /** Stops the process (and so its children) if it still runs. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/** A process as the kernel knows it: its pid and start time (so a reused pid is not taken for it). */
export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/PID/stat's starttime: clock ticks after boot. */
  readonly start: string;
}

/** The process now at `pid`, null when there is none. */
export function processIdentity(pid: number): ProcessIdentity | null {
  const fields = procStatFields(pid);
  return fields ? { pid, start: fields[19] ?? '' } : null;
}

/**
 * Whether the process `id` names still runs: the pid is there, started when it did (a run that
 * spawns thousands of processes wraps pid_max, 32768 by default, and the pid goes to another),
 * and it is not a zombie.
 */
export function stillRunning(id: ProcessIdentity): boolean {
  const fields = procStatFields(id.pid);
  return fields !== null && fields[19] === id.start && fields[0] !== 'Z';
}

/** /proc/PID/stat's fields after the command's name: state first. */
function procStatFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `run` and `ok` bound to one set of roots; `ok` fails the test with the command's output;
 * `removeAll` (a suite's after) removes every container of the roots, returning the ids it found.
 */
export function cliFor(env: NodeJS.ProcessEnv): {
  run: (...args: string[]) => Result;
  ok: (...args: string[]) => string;
  removeAll: () => string[];
} {
  const run = (...args: string[]): Result => paas(args, env);
  const ok = (...args: string[]): string => {
    const r = run(...args);
    if (r.status !== 0) throw new Error(`paas ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const removeAll = (): string[] => {
    const left = run('ps', '-aq').stdout.split('\n').filter(Boolean);
    if (left.length) run('rm', '-f', ...left);
    return left;
  };
  return { run, ok, removeAll };
}

/**
 * A suite's `after` on one set of roots: removes every container and the roots, then fails
 * naming what was left behind (containers, mounts under the root, cgroups made since `sinceMs`).
 */
export function removeAllAndCheck(
  roots: { readonly root: string; cleanup(): void },
  cli: { removeAll(): string[] },
  sinceMs: number,
): void {
  const left = cli.removeAll();
  const mounts = mountsUnder(roots.root);
  roots.cleanup();
  assert.deepEqual(cgroupsLeftSince(sinceMs), [], 'container cgroups left behind');
  assert.deepEqual(left, [], 'containers left behind');
  assert.deepEqual(mounts, [], 'mounts left behind');
}

/** Mount points at or below `path` (a leak check). */
export function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(path));
}

/**
 * The containers whose records are still under an engine root (`<root>/containers/<id>/`, 64
 * hex digits): a leak check that skips what the engine keeps beside them (the names table).
 */
export function containersUnder(root: string): string[] {
  const dir = join(root, 'containers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[a-f0-9]{64}$/.test(e.name))
    .map((e) => e.name);
}

/**
 * Empty container cgroups (v1 memory/pids, or the unified tree) made since `sinceMs`: what a
 * removed container left behind. Cgroups with processes belong to live containers.
 */
export function cgroupsLeftSince(sinceMs: number): string[] {
  const left: string[] = [];
  for (const base of ['/sys/fs/cgroup/memory/paas', '/sys/fs/cgroup/pids/paas', '/sys/fs/cgroup/paas']) {
    let names: string[] = [];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const name of names) {
      const st = statSync(join(base, name), { throwIfNoEntry: false });
      if (!st?.isDirectory() || !/^[a-f0-9]{64}$/.test(name) || st.ctimeMs < sinceMs) continue;
      try {
        if (readFileSync(join(base, name, 'cgroup.procs'), 'utf8').trim() === '') left.push(join(base, name));
      } catch {
        // removed meanwhile
      }
    }
  }
  return left;
}
