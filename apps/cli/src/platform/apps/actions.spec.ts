/**
 * apps, apps:create, apps:info and apps:destroy through the CLI's entry point against the
 * fake api (../testing/platform-cli.ts): output, the git remote they add and drop, how a verb
 * finds its app, and how api errors and an unreachable api are printed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas apps', () => {
  const t = platformCli();

  it('apps:create prints the URLs and adds the paas remote inside a repo', async () => {
    const { api, repo } = t;
    await t.inRepo(async () => {
      const r = await t.ok('apps:create', 'shop');
      assert.equal(r.out, `http://shop.localhost:8080/ | ${api.url}/git/shop.git\n`);
      assert.equal(r.err, 'Creating shop... done\nGit remote paas added\n');
      assert.equal(t.git(repo, 'config', '--get', 'remote.paas.url').trim(), `${api.url}/git/shop.git`);
      // A second app does not take over the remote.
      const other = await t.ok('apps:create', 'blog');
      assert.match(other.err, /Git remote paas already points to .*\/git\/shop\.git; not changed/);
      const named = await t.ok('apps:create', 'blog-staging', '-r', 'staging');
      assert.match(named.err, /Git remote staging added/);
    });
    const plain = await t.ok('apps:create', 'plain-app', '--json');
    assert.equal(JSON.parse(plain.out).name, 'plain-app');
    assert.doesNotMatch(plain.err, /remote/);
  });

  it('apps lists the apps, --json as JSON', async () => {
    const r = await t.ok('apps');
    assert.match(r.out, /^=== Apps\n/);
    assert.match(r.out, /^shop +- +http:\/\/shop\.localhost:8080\/$/m);
    const list = JSON.parse((await t.ok('apps', '--json')).out) as { name: string }[];
    assert.deepEqual(list.map((a) => a.name).sort(), ['blog', 'blog-staging', 'plain-app', 'shop']);
  });

  it('finds the app from the git remote, and says so when it cannot', async () => {
    await t.inRepo(async () => {
      assert.equal((await t.ok('config')).out, '=== shop Config Vars\n');
      assert.equal((await t.ok('config', '-r', 'staging')).out, '=== blog-staging Config Vars\n');
      assert.equal((await t.cli(['config'], { PAAS_APP: 'blog' })).out, '=== blog Config Vars\n');
    });
    const r = await t.cli(['config']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'paas: no app specified: use -a APP or run inside a repo with a "paas" git remote\n');
    assert.equal(r.out, '');
  });

  it('prints api errors and unreachable apis as `paas: <message>` with exit 1', async () => {
    const missing = await t.cli(['apps:info', '-a', 'nope']);
    assert.deepEqual(missing, { code: 1, out: '', err: "paas: app 'nope' not found\n" });
    const invalid = await t.cli(['apps:create', 'Bad_Name']);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.err, 'paas: name must be a DNS label\n');
    const refused = await t.cli(['apps'], { PAAS_API_URL: 'http://127.0.0.1:1' });
    assert.deepEqual(refused, {
      code: 1,
      out: '',
      err: 'paas: cannot reach the paas API at http://127.0.0.1:1: connection refused (is the api running? `paas up` starts it)\n',
    });
    const unauthorized = await t.cli(['apps'], { PAAS_API_TOKEN: 'paas_bad' });
    assert.equal(unauthorized.code, 1);
    assert.equal(
      unauthorized.err,
      `paas: missing or unknown token\npaas: the API at ${t.api.url} refused the token (token from $PAAS_API_TOKEN); run 'paas login'\n`,
    );
  });

  it('apps:info and apps:destroy (which wants --confirm and drops the git remote)', async () => {
    const { api } = t;
    api.deploy('shop', { web: 'npm start', worker: 'node worker.js' });
    api.scale(api.state('shop'), 'web', 2);
    api.scale(api.state('shop'), 'worker', 3, '1G');
    const info = await t.ok('apps:info', '-a', 'shop');
    assert.match(
      info.out,
      /^=== shop\nGit URL: +http:\/\/127\.0\.0\.1:\d+\/git\/shop\.git\nMaintenance: off\nProcesses: +web=2:basic worker=3:standard-2x\nRelease: +v1\nCreated: .*UTC \(just now\)\nWeb URL: +http:\/\/shop\.localhost:8080\/\n$/,
    );
    await t.inRepo(async () => {
      const unconfirmed = await t.cli(['apps:destroy']);
      assert.equal(unconfirmed.code, 1);
      assert.equal(unconfirmed.err, 'paas: this would destroy shop: re-run with --confirm shop\n');
      const wrong = await t.cli(['apps:destroy', '--confirm', 'blog']);
      assert.equal(wrong.err, "paas: confirmation 'blog' did not match shop; nothing was destroyed\n");
      const done = await t.ok('apps:destroy', '--confirm', 'shop');
      assert.equal(done.err, 'Destroying shop... done\nGit remote paas removed\n');
      assert.equal(t.git(t.repo, 'remote').trim(), 'staging');
    });
    assert.equal((await t.cli(['apps:info', '-a', 'shop'])).code, 1);
  });

  it('names itself to git as a credential helper', async () => {
    const { credentialHelper } = await import('./actions');
    assert.equal(credentialHelper('/usr/local/bin/paas'), '!/usr/local/bin/paas git:credentials');
    assert.equal(credentialHelper('/opt/my tools/paas'), "!'/opt/my tools/paas' git:credentials");
    assert.equal(credentialHelper('/some/test.spec.ts'), '!paas git:credentials');
    assert.equal(credentialHelper(undefined), '!paas git:credentials');
  });
});
