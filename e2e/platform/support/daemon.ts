/**
 * A platform daemon of ours (agent, router) run from source in a child process, as
 * `npm run up` runs it: ready once it sends its `{ready, url}` IPC message. Its output is
 * kept for failure messages; stopping is the caller's (SIGTERM, by pid).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE } from '../../support/cli';

export interface Daemon {
  readonly child: ChildProcess;
  readonly url: string;
  /** stdout and stderr so far. */
  output(): string;
}

/**
 * Starts `entry` (with `args`) and waits for its ready message; a daemon not ready within
 * `readyMs` is killed and fails the caller.
 */
export async function startDaemon(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  readyMs = 60_000,
  args: readonly string[] = [],
): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(WORKSPACE, entry), ...args], {
    cwd: WORKSPACE,
    env: { PATH: process.env['PATH'], ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (c: Buffer): void => void (output += c.toString());
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string | null>((resolve) => {
    child.once('message', (m: { ready?: boolean; url?: string }) => resolve(m.ready && m.url ? m.url : null));
    child.once('exit', () => resolve(null));
    timer = setTimeout(() => resolve(null), readyMs);
  });
  clearTimeout(timer);
  if (!url) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    assert.fail(`${name} did not start (within ${readyMs} ms or at all):\n${output}`);
  }
  return { child, url, output: () => output };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the daemon has exited. */
export async function stopDaemon(daemon: Daemon, graceMs = 10_000): Promise<void> {
  const { child } = daemon;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** `main.ts cleanup` of the agent: removes the node's containers and its bridge (a spec's after). */
export function agentCleanup(env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', join(WORKSPACE, 'apps', 'agent', 'src', 'main.ts'), 'cleanup'],
    {
      cwd: WORKSPACE,
      env: { ...env, PATH: process.env['PATH'] },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
}
