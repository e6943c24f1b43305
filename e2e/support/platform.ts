/**
 * Helpers for the platform's end-to-end specs: git with nothing from the host's
 * configuration, HTTP requests with a Host header of our choosing (fetch will not send one),
 * and polling with a message that says what was awaited.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { platformTlsDirectory } from '@paas/config';
import { ensureLeaf, ensurePlatformCa } from '@paas/platform';
import { type RunningRegistry, startRegistry } from '@paas/registry';

/** git's environment: no system or user configuration (HOME is the spec's), never prompting. */
export function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
}

/** A local git command that must succeed; its trimmed stdout. */
export function gitSync(env: NodeJS.ProcessEnv, dir: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `git ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

export interface GitResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr as they came. */
  readonly output: string;
  readonly ms: number;
}

/**
 * Writes `files` into the checkout `dir` (null removes one), stages everything and commits it
 * with `message`; returns the new commit's id.
 */
export function gitCommit(
  env: NodeJS.ProcessEnv,
  dir: string,
  files: Readonly<Record<string, string | null>>,
  message: string,
): string {
  for (const [name, content] of Object.entries(files)) {
    if (content === null) rmSync(join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  gitSync(env, dir, 'add', '-A');
  gitSync(env, dir, 'commit', '--quiet', '-m', message);
  return gitSync(env, dir, 'rev-parse', 'HEAD');
}

/** What the server said to a push, as the pusher sees it: the `remote: ` lines without git's padding. */
export function remoteLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('remote: '))
    .map((l) => l.slice('remote: '.length).trimEnd());
}

/**
 * git talking to an api that runs in the spec's own process (push, clone, ls-remote): always
 * asynchronous, since a synchronous child would stall the api it talks to. Killed after 3 min.
 */
export function gitAsync(env: NodeJS.ProcessEnv, dir: string, ...args: string[]): Promise<GitResult> {
  return gitAsyncWithin(180_000, env, dir, ...args);
}

/** gitAsync killed (SIGKILL, status null) after `limitMs`, with its helpers (git-remote-http). */
export function gitAsyncWithin(
  limitMs: number,
  env: NodeJS.ProcessEnv,
  dir: string,
  ...args: string[]
): Promise<GitResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    // a group of its own: its helpers hold the pipes open after git itself was killed
    const child = spawn('git', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      output += chunk.toString();
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }, limitMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, output, ms: Date.now() - t0 });
    });
  });
}

export interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A GET on a fresh connection, with `host` as the Host header when given. */
export function httpGet(url: string, host?: string, timeoutMs = 3000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: timeoutMs, headers: host ? { host } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `check` every 100 ms until it returns something truthy, which it returns; fails with
 * `what` (and the last error `check` threw) after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | false | null | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms: ${what}${last ? ` (${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A teardown that goes on past a failing step: `attempt` runs each step and notes what failed
 * in `problems` (which the caller asserts empty at the end, after everything was tried).
 */
export function teardown(): { problems: string[]; attempt: (what: string, fn: () => unknown) => Promise<void> } {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  return { problems, attempt };
}

/**
 * The platform registry as `paas up` serves it off loopback: on `host`, taking tokens only,
 * over https with a leaf of the platform CA under `paasRoot` (made here if the api has not
 * made it yet), which the api, the build workers and the agents (PAAS_CA_FILE) trust.
 */
export async function startPlatformRegistry(
  paasRoot: string,
  registryRoot: string,
  host: string,
): Promise<RunningRegistry> {
  const dir = platformTlsDirectory(paasRoot);
  const tls = await ensureLeaf(dir, await ensurePlatformCa(dir), 'registry', {
    commonName: 'paas registry',
    sans: [host],
  });
  return startRegistry({ root: registryRoot, listen: { host, port: 0 }, auth: 'token', tls });
}
