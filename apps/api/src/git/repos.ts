/**
 * The apps' bare repositories, `GIT_ROOT/APP.git` (PAAS_GIT_ROOT, by default
 * `$PAAS_ROOT/platform/git`), made on first use, and the hooks directory every receive-pack of
 * the api runs with (core.hooksPath): only `proc-receive`, the relay described in
 * proc-receive.ts.
 */
import { writeFileAtomic } from '@paas/content';
import { git } from '@paas/platform';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * fd 3/4/5 are the api's pipes (see proc-receive.ts). A background job's stdin is /dev/null
 * in sh, so the hook's own stdin is kept on fd 6 for the first relay.
 *
 * The api's answer ending (fd 4 at end of file) ends the hook, also when the api died
 * mid-push: the relay from receive-pack is stopped then, as receive-pack, waiting for the
 * hook's answer, would never close its side. So a dead api's push ends at once, receive-pack
 * rejecting it (its pusher is gone too), and leaves no process behind.
 */
const PROC_RECEIVE_HOOK = `#!/bin/sh
# paas: relays git's proc-receive protocol to the api that started this receive-pack.
exec 6<&0
cat <&6 >&3 &
relay=$!
cat <&5 >&2 &
cat <&4
kill $relay 2>/dev/null
wait
`;

/** Refs a push deploys to the app itself; other branches go to their review apps (push-flow.ts). */
export const DEPLOY_REFS: ReadonlySet<string> = new Set(['refs/heads/main', 'refs/heads/master']);

/** The refs receive-pack hands to the proc-receive hook (a prefix): every branch; tags move as git moves them. */
export const PROC_RECEIVE_REFS = 'refs/heads/';

export class GitRepos {
  readonly root: string;
  readonly hooks: string;
  private hookWritten: Promise<void> | undefined;

  /** `gitRoot`: the api's config.gitRoot. */
  constructor(gitRoot: string) {
    this.root = gitRoot;
    this.hooks = join(this.root, '.hooks');
  }

  /** Writes the hook, once per process (again at each start: an upgrade may change it). */
  init(): Promise<void> {
    this.hookWritten ??= this.writeHook().catch((err: unknown) => {
      this.hookWritten = undefined;
      throw err;
    });
    return this.hookWritten;
  }

  private async writeHook(): Promise<void> {
    await mkdir(this.hooks, { recursive: true, mode: 0o700 });
    const hook = join(this.hooks, 'proc-receive');
    await writeFileAtomic(hook, PROC_RECEIVE_HOOK, 0o755);
  }

  path(app: string): string {
    return join(this.root, `${app}.git`);
  }

  /** The app's repository, created empty (HEAD -> main) the first time. */
  async ensure(app: string): Promise<string> {
    await this.init();
    const dir = this.path(app);
    if (existsSync(join(dir, 'HEAD'))) return dir;
    const tmp = `${dir}.init-${process.pid}-${Date.now()}`;
    try {
      await git(['init', '--quiet', '--bare', '--initial-branch=main', tmp]);
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (existsSync(join(dir, 'HEAD'))) return dir; // another push made it first
      throw err;
    }
    return dir;
  }

  /** Removes an app's repository (when the app is deleted). */
  async remove(app: string): Promise<void> {
    await rm(this.path(app), { recursive: true, force: true });
  }
}

/** A ref's commit, or null when it does not exist. */
export async function resolveRef(repo: string, ref: string): Promise<string | null> {
  try {
    return await git(['--git-dir', repo, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    return null;
  }
}
