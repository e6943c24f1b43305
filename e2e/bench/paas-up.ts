/**
 * The platform benches' one way to run the whole platform: a real `paas up` (redis, registry,
 * api, one agent, the router) in temporary roots with a bridge of its own, loopback addresses
 * only, and everything stopped and removed afterwards, also after a failure (`paas down` for
 * what a killed `paas up` left, the agent's cleanup for its containers and bridge, the roots,
 * the bench's own Redis client).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis, readAppRoute } from '@paas/platform/routes';

const REPO = join(__dirname, '..', '..');
export const PAAS = join(REPO, 'bin', 'paas');

/** The wrks running, killed by withPaasUp's clean-up if its body fails under load. */
const wrks = new Set<ChildProcess>();

export interface PaasUpOptions {
  /** The temp dir's prefix under /var/tmp, e.g. `paas-bench-deploy-`. */
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  /** `paas image bootstrap` these first. */
  readonly images: readonly string[];
  /** More settings of the platform's components. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface PaasUp {
  readonly work: string;
  readonly env: NodeJS.ProcessEnv;
  readonly api: string;
  readonly router: string;
  readonly token: string;
  /** The platform's Redis (the route table), connected on first use. */
  redis(): Redis;
  /** Runs a command to completion in `cwd` (default the work dir); fails with its output. */
  run(cmd: string, args: string[], cwd?: string): string;
  /** What `paas up` printed so far. */
  output(): string;
  /** Sends `signal` to `paas up` and waits for it to end; its exit status. */
  signal(signal: NodeJS.Signals): Promise<number | null>;
  /** Runs `paas up ARGS` again on the same roots (after `signal`) until it is up; its router URL. */
  again(args?: string[]): Promise<string>;
}

/** Runs `body` against a fresh platform, then stops and removes it whatever happened. */
export async function withPaasUp(options: PaasUpOptions, body: (up: PaasUp) => Promise<void>): Promise<void> {
  const work = mkdtempSync(join('/var/tmp', options.name));
  chmodSync(work, 0o711); // as /var/lib: instances in user namespaces reach their bundles under it
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: join(work, 'home'),
    PAAS_ROOT: join(work, 'root'),
    PAAS_RUN: join(work, 'run'),
    PAAS_API_ADDR: '127.0.0.1:0',
    PAAS_REGISTRY_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADMIN_ADDR: 'off',
    PAAS_ROUTER_ACCESS_LOG: 'off',
    PAAS_BRIDGE: options.bridge,
    PAAS_SUBNET: options.subnet,
    PAAS_IP_FORWARD: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
    // e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile every component of the run
    ...(process.env['PAAS_BENCH_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['PAAS_BENCH_NODE_OPTIONS'] } : {}),
    ...options.env,
  };
  const run = (cmd: string, args: string[], cwd = work): string => {
    const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  let up: ChildProcess | undefined;
  let redis: Redis | undefined;
  let out = '';
  try {
    mkdirSync(join(work, 'home'), { recursive: true });
    run(PAAS, ['image', 'bootstrap', ...options.images]);
    /** `paas up ARGS` until it says it is up; what it printed from its start. */
    const launch = async (args: string[]): Promise<string> => {
      const from = out.length;
      const child = spawn(PAAS, ['up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      up = child;
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      await until('paas up', async () => /Press Ctrl-C/.test(out.slice(from)), 120_000);
      env['PAAS_API_URL'] = /\n\s+api\s+(https?:\/\/\S+)/.exec(out.slice(from))?.[1] ?? '';
      return out.slice(from);
    };
    await launch([]);
    const api = env['PAAS_API_URL'] ?? '';
    const redisUrl = /\n\s+redis\s+(\S+)/.exec(out)?.[1] ?? '';
    await body({
      work,
      env,
      api,
      router: /\n\s+router\s+(http:\/\/\S+)/.exec(out)?.[1] ?? '',
      token: readFileSync(join(work, 'root', 'platform', 'admin.token'), 'utf8').trim(),
      redis: () => (redis ??= connectRedis(redisUrl)),
      run,
      output: () => out,
      signal: async (signal) => {
        const child = up;
        if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
        const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
        child.kill(signal);
        return closed;
      },
      again: async (args = []) => /\n\s+router\s+(http:\/\/\S+)/.exec(await launch(args))?.[1] ?? '',
    });
  } catch (err) {
    console.error(out.slice(-4000));
    console.error(networkState(options.bridge));
    throw err;
  } finally {
    // before paas up stops its Redis: a client left connected would retry for ever
    redis?.disconnect();
    // a wrk still running (the body failed under load) would hammer a platform going away
    for (const child of wrks) child.kill('SIGKILL');
    if (up && up.exitCode === null && up.signalCode === null) {
      const stopped = up;
      stopped.kill('SIGINT');
      await new Promise((r) => stopped.once('close', r));
    }
    // what a `paas up` killed by the body left running (its components, then its apps)
    spawnSync(PAAS, ['down'], { env, stdio: 'ignore', timeout: 120_000 });
    spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'apps', 'agent', 'src', 'main.ts'), 'cleanup'], {
      cwd: REPO,
      env,
      stdio: 'ignore',
    });
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * What the host's network looked like when a body failed, for a failure seen only elsewhere (an
 * instance its node cannot reach, say): addresses, routes, the bridge's ports and neighbours.
 */
function networkState(bridge: string): string {
  const show = (args: string[]): string => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    return `$ ip ${args.join(' ')}\n${r.stdout}${r.stderr}`;
  };
  return [
    show(['-br', 'addr']),
    show(['route']),
    show(['-br', 'link', 'show', 'master', bridge]),
    show(['neigh', 'show', 'dev', bridge]),
  ].join('');
}

/**
 * GET `url` with a Host header, without keep-alive; status 0 when it could not be asked, with
 * why in `error` (`ECONNREFUSED`, `timeout`, …).
 */
export function get(
  url: string,
  host: string,
  timeoutMs = 5000,
): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { host }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, body: '', error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * Makes app `app` from `files` (a git repository under the work dir, one commit) and pushes it
 * to the platform; the repository's directory.
 */
export function pushApp(up: PaasUp, app: string, files: Record<string, string>): string {
  const dir = join(up.work, app);
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  up.run('git', ['init', '-q', '-b', 'main'], dir);
  up.run(PAAS, ['apps:create', app], dir);
  up.run('git', ['add', '-A'], dir);
  up.run('git', ['commit', '-qm', 'v1'], dir);
  up.run('git', ['push', '-q', 'paas', 'main'], dir);
  return dir;
}

/** Polls `check` every `pollMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  pollMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** `PATCH /api/apps/APP/formation/web` through the platform's api: `quantity` web instances (of `size`). */
export async function scaleWeb(up: PaasUp, app: string, quantity: number, size?: string): Promise<void> {
  const res = await fetch(`${up.api}/api/apps/${app}/formation/web`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ quantity, ...(size ? { size } : {}) }),
  });
  if (!res.ok) throw new Error(`scale ${app}: ${res.status} ${await res.text()}`);
}

/** The addresses the route table sends `app`'s requests to. */
export async function webBackends(up: PaasUp, app: string): Promise<string[]> {
  return ((await readAppRoute(up.redis(), app)).route?.backends ?? []).map((b) => b.address);
}

/** What wrk said of one run (its summary). */
export interface WrkResult {
  readonly requests: number;
  /** "Non-2xx or 3xx responses" */
  readonly non2xx: number;
  /** "Socket errors", by kind (all 0 when wrk had none) */
  readonly errors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly timeout: number;
  };
  /** Its latency's max, as wrk prints it (`1.02s`, `95.31ms`). */
  readonly maxLatency: string;
}

/**
 * `wrk -t1 -cCONNECTIONS -dSECONDS` through the router with `Host: HOST`, started now; its
 * summary once it ends. A missing wrk rejects (the bench fails and cleans up), not the process.
 */
export function wrk(
  up: PaasUp,
  host: string,
  options: { readonly connections: number; readonly seconds: number; readonly timeoutSeconds?: number },
): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '-H', `Host: ${host}`];
  if (options.timeoutSeconds) args.push('--timeout', `${options.timeoutSeconds}s`);
  const child = spawn('wrk', [...args, `${up.router}/`], { env: up.env, stdio: ['ignore', 'pipe', 'pipe'] });
  wrks.add(child);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const result = new Promise<WrkResult>((resolve, reject) => {
    child.once('error', (err) => {
      wrks.delete(child);
      reject(new Error(`wrk: ${err.message} (apt-get install wrk)`));
    });
    child.once('close', (code) => {
      wrks.delete(child);
      const requests = /(\d+) requests in/.exec(text)?.[1];
      if (code !== 0 || requests === undefined) return reject(new Error(`wrk ${args.join(' ')}: ${code}\n${text}`));
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
      resolve({
        requests: Number(requests),
        non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
        errors: {
          connect: Number(socket?.[1] ?? 0),
          read: Number(socket?.[2] ?? 0),
          write: Number(socket?.[3] ?? 0),
          timeout: Number(socket?.[4] ?? 0),
        },
        maxLatency: /Latency\s+\S+\s+\S+\s+(\S+)/.exec(text)?.[1] ?? '?',
      });
    });
  });
  // a body that failed before awaiting it must not end the process in an unhandled rejection
  // (when the clean-up kills this wrk) before the clean-up is done
  result.catch(() => undefined);
  return result;
}

/** `connect 0, read 2, write 0, timeout 0` as wrk says it, or `none`. */
export function socketErrors(r: WrkResult): string {
  const { connect, read, write, timeout } = r.errors;
  return connect + read + write + timeout === 0
    ? 'none'
    : `connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`;
}
