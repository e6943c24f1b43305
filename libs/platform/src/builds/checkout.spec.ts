import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { git } from '../git';
import { checkoutCommit } from './checkout';

/** Runs `fn` with these variables in the process's environment, as a host's shell would set them. */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  }
}

describe("a build's checkout", () => {
  let dir: string;
  let repo: string;
  let decoy: string;
  let commit: string;
  let marker: string;
  let hostile: string;

  /** A bare repository with one commit holding `file`. */
  async function repoWith(path: string, content: string): Promise<string> {
    const work = `${path}.work`;
    await git(['init', '--quiet', '--initial-branch=main', work]);
    writeFileSync(join(work, 'file'), content);
    await git(['add', 'file'], work);
    await git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '-m', 'one'], work);
    await git(['clone', '--quiet', '--bare', work, path]);
    return git(['rev-parse', 'HEAD'], work);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-checkout-'));
    repo = join(dir, 'app.git');
    decoy = join(dir, 'decoy.git');
    commit = await repoWith(repo, 'pushed\n');
    await repoWith(decoy, 'not what was pushed\n');
    // what a host's (or an attacker's) git config may hold: a hook for every checkout, and
    // a rewrite of the repository's path to another one
    marker = join(dir, 'hook-ran');
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'post-checkout'), `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(join(hooks, 'post-checkout'), 0o755);
    hostile = join(dir, 'gitconfig');
    writeFileSync(hostile, `[core]\n\thooksPath = ${hooks}\n[url "${decoy}"]\n\tinsteadOf = ${repo}\n`);
    mkdirSync(join(dir, 'home'));
    writeFileSync(join(dir, 'home', '.gitconfig'), readFileSync(hostile));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is the pushed commit as a plain directory, without .git', async () => {
    const out = join(dir, 'plain');
    await checkoutCommit(repo, commit, out);
    assert.deepEqual(readdirSync(out), ['file']);
    assert.equal(readFileSync(join(out, 'file'), 'utf8'), 'pushed\n');
  });

  for (const [where, vars] of [
    ['~/.gitconfig', (): Record<string, string> => ({ HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'home') })],
    ['GIT_CONFIG_GLOBAL', (): Record<string, string> => ({ GIT_CONFIG_GLOBAL: hostile })],
    ['the system gitconfig', (): Record<string, string> => ({ GIT_CONFIG_SYSTEM: hostile, GIT_CONFIG_NOSYSTEM: '' })],
  ] as const) {
    it(`ignores the host's git config in ${where}`, async () => {
      const out = join(dir, `out-${where.replace(/\W/g, '')}`);
      await withEnv(vars(), () => checkoutCommit(repo, commit, out));
      assert.equal(readFileSync(join(out, 'file'), 'utf8'), 'pushed\n', 'the pushed repository, not a rewrite');
      assert.equal(existsSync(marker), false, "the host's hooks did not run");
    });
  }

  it('says what git said when the commit is not there', async () => {
    await assert.rejects(checkoutCommit(repo, 'f'.repeat(40), join(dir, 'missing')), (err: Error) =>
      err.message.startsWith(`checking out fffffff from ${repo} failed: fatal: `),
    );
  });

  it('refuses what is not a commit id', async () => {
    await assert.rejects(checkoutCommit(repo, 'main', join(dir, 'x')), /not a commit id: "main"/);
  });
});
