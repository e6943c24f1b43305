import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CliError } from '../errors';
import { appFromGitUrl, insideWorkTree, remoteUrl, resolveApp } from './app';

describe('which app a command is about', () => {
  let base = '';
  let repo = '';
  let plain = '';

  const git = (cwd: string, ...args: string[]): void => {
    execFileSync('git', args, { cwd, stdio: 'ignore' });
  };

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'paas-cli-app-'));
    repo = join(base, 'repo');
    plain = join(base, 'plain');
    mkdirSync(join(repo, 'sub', 'dir'), { recursive: true });
    mkdirSync(plain);
    git(repo, 'init', '-q');
    git(repo, 'remote', 'add', 'paas', 'http://127.0.0.1:7000/git/my-app.git');
    git(repo, 'remote', 'add', 'staging', 'https://paas.example.com/git/my-app-staging.git');
    git(repo, 'remote', 'add', 'origin', 'git@github.com:someone/my-app.git');
  });

  after(() => rmSync(base, { recursive: true, force: true }));

  it('reads the app name from a paas git URL', () => {
    assert.equal(appFromGitUrl('http://127.0.0.1:7000/git/my-app.git'), 'my-app');
    assert.equal(appFromGitUrl('https://h.example.com/prefix/git/x1.git/'), 'x1');
    assert.equal(appFromGitUrl('git@github.com:someone/my-app.git'), undefined);
    assert.equal(appFromGitUrl('https://github.com/someone/my-app'), undefined);
  });

  it('prefers -a, then $PAAS_APP, then the git remote', async () => {
    assert.equal(await resolveApp({ app: 'flag' }, { PAAS_APP: 'env' }, repo), 'flag');
    assert.equal(await resolveApp({}, { PAAS_APP: 'env' }, repo), 'env');
    assert.equal(await resolveApp({}, {}, repo), 'my-app');
  });

  it('finds the remote from a subdirectory and honours -r', async () => {
    assert.equal(await resolveApp({}, {}, join(repo, 'sub', 'dir')), 'my-app');
    assert.equal(await resolveApp({ remote: 'staging' }, {}, repo), 'my-app-staging');
    assert.equal(await remoteUrl('paas', repo), 'http://127.0.0.1:7000/git/my-app.git');
    assert.equal(await insideWorkTree(join(repo, 'sub')), true);
    assert.equal(await insideWorkTree(plain), false);
  });

  it('fails clearly outside a repo, without the remote, or with a remote of another server', async () => {
    await assert.rejects(
      resolveApp({}, {}, plain),
      (err: unknown) =>
        err instanceof CliError &&
        err.exitCode === 1 &&
        err.message === 'no app specified: use -a APP or run inside a repo with a "paas" git remote',
    );
    await assert.rejects(resolveApp({ remote: 'nosuch' }, {}, repo), /run inside a repo with a "nosuch" git remote/);
    await assert.rejects(
      resolveApp({ remote: 'origin' }, {}, repo),
      /git remote "origin" \(git@github\.com:someone\/my-app\.git\) is not a paas app/,
    );
  });

  it('asks git once and quickly', async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) await resolveApp({}, {}, repo);
    const perCallMs = Number(process.hrtime.bigint() - start) / 5e6;
    assert.ok(perCallMs < 200, `${perCallMs} ms per resolution`);
  });
});
