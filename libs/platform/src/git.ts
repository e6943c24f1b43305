/**
 * The one way the platform runs git (the api's receive-pack and upload-pack, its repository
 * housekeeping, a build's checkout): with an environment of our own, never the process's.
 * Pushed repositories are untrusted and the host's git config is not ours: a system or user
 * `core.hooksPath`, `core.fsmonitor`, `url.<base>.insteadOf` or credential helper would run
 * host commands or read other repositories inside a push or a build. So no system or global
 * config (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null, and no HOME or XDG dirs to find
 * one in), no inherited GIT_* variables, never a prompt, and the C locale.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The hardened environment, plus `extra` (a GIT_PROTOCOL the client asked for). */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

/** Runs git in the hardened environment: its trimmed stdout, or a rejection saying what git said. */
export async function git(args: readonly string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await run('git', [...args], {
      env: gitEnv(),
      ...(cwd ? { cwd } : {}),
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(stderr || (err as Error).message, { cause: err });
  }
}
