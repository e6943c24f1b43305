/**
 * The pushed commit as a plain directory: a `--shared` clone of the app's bare repository
 * (its objects are read in place, nothing is copied), checked out at the commit and stripped
 * of `.git`, which has no business in an image. The commit may not be on any branch yet —
 * the push waits for this build before it moves the branch — and a shared clone still sees it.
 * git runs in the platform's hardened environment (../git.ts): the host's git config, which
 * could rewrite the repository's path or run hooks, plays no part in a build.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../git';
import { AppBuildError } from './errors';

export async function checkoutCommit(repo: string, commit: string, dir: string): Promise<void> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit))
    throw new AppBuildError(`not a commit id: ${JSON.stringify(commit)}`);
  await rm(dir, { recursive: true, force: true });
  try {
    await git(['clone', '--quiet', '--no-checkout', '--shared', '--', repo, dir]);
    await git(['checkout', '--quiet', '--detach', commit], dir);
  } catch (err) {
    throw new Error(`checking out ${commit.slice(0, 7)} from ${repo} failed: ${(err as Error).message.trim()}`);
  }
  await rm(join(dir, '.git'), { recursive: true, force: true });
}
