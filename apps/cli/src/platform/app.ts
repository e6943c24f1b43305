/**
 * Which app a command is about: `-a/--app`, then `$PAAS_APP`, then the git remote (`paas`, or
 * `-r/--remote`) of the repository the command runs in, when its URL is `…/git/APP.git`.
 */
import { execFile } from 'node:child_process';
import type { Env } from '@paas/config';
import { CliError } from '../errors';

export interface AppFlags {
  app?: string;
  remote?: string;
}

export const DEFAULT_REMOTE = 'paas';

/** `http://host:7000/git/myapp.git` -> `myapp`; undefined for URLs of other servers. */
export function appFromGitUrl(url: string): string | undefined {
  const match = /\/git\/([^/]+?)\.git\/?$/.exec(url.trim());
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

export interface Git {
  /** `git <args>` in `cwd`: stdout, or undefined when git failed or is not installed. */
  (args: readonly string[], cwd: string): Promise<string | undefined>;
}

export const git: Git = (args, cwd) =>
  new Promise((resolve) => {
    execFile('git', [...args], { cwd, encoding: 'utf8', timeout: 10_000, windowsHide: true }, (err, stdout) =>
      resolve(err ? undefined : stdout),
    );
  });

/** The URL of `remote` in the repository around `cwd`, or undefined. */
export async function remoteUrl(remote: string, cwd: string, run: Git = git): Promise<string | undefined> {
  const out = await run(['config', '--get', `remote.${remote}.url`], cwd);
  const url = out?.trim();
  return url ? url : undefined;
}

export async function resolveApp(flags: AppFlags, env: Env, cwd: string, run: Git = git): Promise<string> {
  if (flags.app) return flags.app;
  const fromEnv = env['PAAS_APP'];
  if (fromEnv) return fromEnv;
  const remote = flags.remote || DEFAULT_REMOTE;
  const url = await remoteUrl(remote, cwd, run);
  const app = url ? appFromGitUrl(url) : undefined;
  if (app) return app;
  if (url) throw new CliError(`the git remote "${remote}" (${url}) is not a paas app: use -a APP`);
  throw new CliError(`no app specified: use -a APP or run inside a repo with a "${remote}" git remote`);
}

/** Whether `cwd` is inside a git work tree. */
export async function insideWorkTree(cwd: string, run: Git = git): Promise<boolean> {
  return (await run(['rev-parse', '--is-inside-work-tree'], cwd))?.trim() === 'true';
}
