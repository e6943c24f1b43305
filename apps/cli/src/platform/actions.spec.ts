/**
 * The platform verbs through the CLI's own entry point (runCli), against a real HTTP server
 * that answers as docs/api.md says (testing/fake-api.ts): output formats, exit codes, the git
 * remote, and that the engine's verbs keep their meaning.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from '../io';
import { runCli } from '../program';
import { FakeApi } from './testing/fake-api';

interface Result {
  code: number;
  out: string;
  err: string;
}

describe('platform verbs against an api that plays the contract', () => {
  let api: FakeApi;
  let base = '';
  let repo = '';
  let env: Record<string, string> = {};
  const home = process.cwd();
  /** Where the verbs run when a test does not cd into the repo: a directory outside any git repo. */
  let outside = '';

  async function cli(
    argv: string[],
    extraEnv: Record<string, string> = {},
    onOut?: (s: string) => void,
  ): Promise<Result> {
    let out = '';
    let err = '';
    const io: CliIo = {
      env: { ...env, ...extraEnv },
      out: (s) => {
        out += s;
        onOut?.(s);
      },
      err: (s) => (err += s),
    };
    const code = await runCli(argv, io);
    return { code, out, err };
  }

  async function ok(...argv: string[]): Promise<Result> {
    const r = await cli(argv);
    assert.equal(r.code, 0, `paas ${argv.join(' ')}: ${r.err}`);
    return r;
  }

  const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' });

  before(async () => {
    api = await new FakeApi().start();
    base = mkdtempSync(join(tmpdir(), 'paas-cli-platform-'));
    repo = join(base, 'repo');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    outside = join(base, 'outside');
    mkdirSync(outside);
    process.chdir(outside);
    env = {
      HOME: join(base, 'home'),
      PAAS_ROOT: join(base, 'root'),
      PAAS_RUN: join(base, 'run'),
      PAAS_API_URL: api.url,
      PAAS_API_TOKEN: api.adminToken,
    };
  });

  after(async () => {
    process.chdir(home);
    await api.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('apps:create prints the URLs and adds the paas remote inside a repo', async () => {
    process.chdir(repo);
    try {
      const r = await ok('apps:create', 'shop');
      assert.equal(r.out, `http://shop.localhost:8080/ | ${api.url}/git/shop.git\n`);
      assert.equal(r.err, 'Creating shop... done\nGit remote paas added\n');
      assert.equal(git(repo, 'config', '--get', 'remote.paas.url').trim(), `${api.url}/git/shop.git`);
      // A second app does not take over the remote.
      const other = await ok('apps:create', 'blog');
      assert.match(other.err, /Git remote paas already points to .*\/git\/shop\.git; not changed/);
      const named = await ok('apps:create', 'blog-staging', '-r', 'staging');
      assert.match(named.err, /Git remote staging added/);
    } finally {
      process.chdir(outside);
    }
    const plain = await ok('apps:create', 'plain-app', '--json');
    assert.equal(JSON.parse(plain.out).name, 'plain-app');
    assert.doesNotMatch(plain.err, /remote/);
  });

  it('apps lists the apps, --json as JSON', async () => {
    const r = await ok('apps');
    assert.match(r.out, /^=== Apps\n/);
    assert.match(r.out, /^shop +- +http:\/\/shop\.localhost:8080\/$/m);
    const list = JSON.parse((await ok('apps', '--json')).out) as { name: string }[];
    assert.deepEqual(list.map((a) => a.name).sort(), ['blog', 'blog-staging', 'plain-app', 'shop']);
  });

  it('finds the app from the git remote, and says so when it cannot', async () => {
    process.chdir(repo);
    try {
      assert.equal((await ok('config')).out, '=== shop Config Vars\n');
      assert.equal((await ok('config', '-r', 'staging')).out, '=== blog-staging Config Vars\n');
      assert.equal((await cli(['config'], { PAAS_APP: 'blog' })).out, '=== blog Config Vars\n');
    } finally {
      process.chdir(outside);
    }
    const r = await cli(['config']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'paas: no app specified: use -a APP or run inside a repo with a "paas" git remote\n');
    assert.equal(r.out, '');
  });

  it('config:set, config, config:get and config:unset, Heroku style', async () => {
    const set = await ok(
      'config:set',
      '-a',
      'shop',
      'DATABASE_URL=postgres://db/x',
      'LANG=en_US.UTF-8',
      'EMPTY=',
      'Q=a b=c',
    );
    assert.equal(set.err, 'Setting DATABASE_URL, LANG, EMPTY and Q and restarting shop... done, v1\n');
    assert.equal(set.out, 'DATABASE_URL: postgres://db/x\nLANG:         en_US.UTF-8\nEMPTY:\nQ:            a b=c\n');
    assert.equal(
      (await ok('config', '-a', 'shop')).out,
      '=== shop Config Vars\nDATABASE_URL: postgres://db/x\nEMPTY:\nLANG:         en_US.UTF-8\nQ:            a b=c\n',
    );
    assert.equal(
      (await ok('config', '-a', 'shop', '--shell')).out,
      "DATABASE_URL=postgres://db/x\nEMPTY=''\nLANG=en_US.UTF-8\nQ='a b=c'\n",
    );
    assert.deepEqual(JSON.parse((await ok('config', '-a', 'shop', '--json')).out), {
      DATABASE_URL: 'postgres://db/x',
      LANG: 'en_US.UTF-8',
      EMPTY: '',
      Q: 'a b=c',
    });
    assert.equal((await ok('config:get', 'LANG', '-a', 'shop')).out, 'en_US.UTF-8\n');
    assert.equal((await ok('config:get', 'Q', '-a', 'shop', '--shell')).out, "Q='a b=c'\n");
    assert.equal((await ok('config:get', 'NOPE', '-a', 'shop')).out, '\n');
    const unset = await ok('config:unset', 'EMPTY', 'Q', '-a', 'shop');
    assert.equal(unset.err, 'Unsetting EMPTY and Q and restarting shop... done, v2\n');
    assert.deepEqual(Object.keys(JSON.parse((await ok('config', '-a', 'shop', '--json')).out)).sort(), [
      'DATABASE_URL',
      'LANG',
    ]);
  });

  it('rejects bad config arguments before asking the api', async () => {
    const before = api.requests.length;
    for (const argv of [
      ['config:set', '-a', 'shop', 'NOEQUALS'],
      ['config:set', '-a', 'shop', '=value'],
      ['config:unset', '-a', 'shop', 'A=1'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^paas: invalid config var/);
    }
    assert.equal(api.requests.length, before);
    const invalid = await cli(['config:set', '-a', 'shop', '1BAD=x']);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.err, "paas: config key '1BAD' is not an environment variable name\n");
  });

  it('ps:scale scales, shows, and refuses bad input', async () => {
    api.deploy('shop', { web: 'npm start', worker: 'node worker.js' });
    assert.equal((await ok('ps:scale', '-a', 'shop')).out, 'web=1:512M worker=0:512M\n');
    const scaled = await ok('ps:scale', 'web=3', 'worker=1', '-a', 'shop');
    assert.equal(scaled.err, 'Scaling processes... done, now running web at 3:512M and worker at 1:512M\n');
    const last = api.requests.at(-1);
    assert.deepEqual(last?.body, {
      updates: [
        { type: 'web', quantity: 3 },
        { type: 'worker', quantity: 1 },
      ],
    });
    assert.equal((await ok('ps:scale', 'web', '-a', 'shop')).out, 'web=3:512M\n');
    await ok('ps:scale', 'web=-1', 'worker=+2:1G', '-a', 'shop');
    assert.equal((await ok('ps:scale', '-a', 'shop')).out, 'web=2:512M worker=3:1G\n');

    const bad = await cli(['ps:scale', 'web=lots', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^paas: invalid scale argument 'web=lots': expected TYPE=N/);
    const missing = await cli(['ps:scale', 'clock=1', '-a', 'shop']);
    assert.equal(missing.code, 1);
    assert.equal(missing.err, "paas: the release has no process type 'clock'\n");
    const unknown = await cli(['ps:scale', 'clock', '-a', 'shop']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.err, "paas: no process type 'clock' on shop; it has web, worker\n");
  });

  it('ps -a APP lists the instances by process type', async () => {
    const r = await ok('ps', '-a', 'shop');
    assert.match(
      r.out,
      /^=== web \(512M\): npm start \(2\)\nweb\.1: up just now \(v3, node-1, 10\.88\.0\.2:5000\)\nweb\.2: up/,
    );
    assert.match(r.out, /\n\n=== worker \(1G\): node worker\.js \(3\)\nworker\.1: up/);
    assert.deepEqual(
      (JSON.parse((await ok('ps', '--app', 'shop', 'worker', '--json')).out) as { name: string }[]).map((i) => i.name),
      ['worker.1', 'worker.2', 'worker.3'],
    );
    assert.equal((await ok('ps', '-a', 'blog')).out, 'No processes are running on blog.\n');
  });

  it('releases, releases:info and rollback', async () => {
    const list = await ok('releases', '-a', 'shop');
    assert.equal(
      list.out,
      [
        '=== shop Releases - Current: v3',
        'v3  Deploy aaaaaaa (deploying)                    admin  just now',
        'v2  Remove EMPTY, Q config vars                   admin  just now',
        'v1  Set DATABASE_URL, LANG, EMPTY, Q config vars  admin  just now',
        '',
      ].join('\n'),
    );
    assert.equal((await ok('releases', '-a', 'shop', '-n', '1')).out.split('\n').length, 3);

    const info = await ok('releases:info', 'v1', '-a', 'shop');
    assert.match(info.out, /^=== Release v1\nBy: {6}admin\nChange: {2}Set DATABASE_URL/);
    assert.match(
      info.out,
      /\n=== v1 Config vars\nDATABASE_URL: postgres:\/\/db\/x\nEMPTY:\nLANG: {9}en_US\.UTF-8\nQ: {12}a b=c\n$/,
    );
    assert.match(
      (await ok('releases:info', '-a', 'shop')).out,
      /^=== Release v3\n[^]*Current: +yes\n[^]*Processes: web: npm start\n {11}worker: node worker\.js\n/,
    );
    assert.equal(JSON.parse((await ok('releases:info', '2', '-a', 'shop', '--json')).out).version, 2);

    const nothing = await cli(['rollback', '-a', 'shop']);
    assert.deepEqual(nothing, {
      code: 1,
      out: '',
      err: 'paas: shop has no deployed release before v3 to roll back to\n',
    });
    const imageless = await cli(['rollback', 'v2', '-a', 'shop']);
    assert.deepEqual(imageless, { code: 1, out: '', err: 'paas: v2 has no image to roll back to\n' });
    api.deploy('shop', { web: 'npm start', worker: 'node worker.js' }, 'c'.repeat(40));
    const back = await ok('rollback', '-a', 'shop');
    assert.equal(back.err, 'Rolling back shop to v3... done, v5 (deploying)\n', 'it serves once it is up');
    assert.deepEqual(api.requests.at(-1)?.body, { release: 3 });
    const explicit = await ok('rollback', 'v4', '-a', 'shop', '--json');
    assert.equal(explicit.err, 'Rolling back shop to v4... done, v6 (deploying)\n');
    assert.match((await ok('releases', '-a', 'shop')).out, /\nv5 {2}Rollback to v3 {2,}admin/, 'superseded: history');
    assert.equal(JSON.parse(explicit.out).description, 'Rollback to v4');
    const bad = await cli(['rollback', 'three', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.equal(bad.err, "paas: invalid release 'three': expected vN, e.g. v3\n");
    const none = await cli(['releases:info', 'v99', '-a', 'shop']);
    assert.equal(none.code, 1);
    assert.equal(none.err, "paas: release 'v99' not found\n");
  });

  it('domains, domains:add and domains:remove', async () => {
    assert.equal((await ok('domains', '-a', 'shop')).out, '=== shop Default Domain\nshop.localhost:8080\n');
    assert.equal(
      (await ok('domains:add', 'www.shop.example', '-a', 'shop')).err,
      'Adding www.shop.example to shop... done\n',
    );
    assert.match(
      (await ok('domains', '-a', 'shop')).out,
      /\n\n=== shop Custom Domains\nDomain Name {7}Added\nwww\.shop\.example {2}just now\n$/,
    );
    const taken = await cli(['domains:add', 'www.shop.example', '-a', 'shop']);
    assert.equal(taken.code, 1);
    assert.equal(taken.err, 'paas: www.shop.example is taken\n');
    assert.equal(
      (await ok('domains:remove', 'www.shop.example', '-a', 'shop')).err,
      'Removing www.shop.example from shop... done\n',
    );
    assert.deepEqual(JSON.parse((await ok('domains', '-a', 'shop', '--json')).out), []);
  });

  it('builds, builds:info and builds:output', async () => {
    const list = await ok('builds', '-a', 'shop');
    assert.match(
      list.out,
      /^=== shop Builds\nBUILD +STATUS +COMMIT +RELEASE +CREATED +ID\n#2 +succeeded +ccccccc +v4 +just now +[0-9a-f-]{36}\n#1 +succeeded +aaaaaaa +v3 +just now +[0-9a-f-]{36}\n$/,
    );
    const info = await ok('builds:info', '#1', '-a', 'shop');
    assert.match(info.out, /^=== Build #1 \(/);
    assert.match(info.out, /^Commit: +a{40} \(refs\/heads\/main\)$/m);
    assert.match(info.out, /^Status: +succeeded$/m);
    assert.equal(JSON.parse((await ok('builds:info', '-a', 'shop', '--json')).out).number, 2);
    assert.equal((await ok('builds', '-a', 'shop', '-n', '1')).out.split('\n').length, 4);
    assert.equal(
      (await ok('builds:output', '1', '-a', 'shop')).out,
      '-----> Building\nStep 1/2 : FROM node:20\n-----> Done\n',
    );
    const nope = await cli(['builds:info', '#9', '-a', 'shop']);
    assert.equal(nope.code, 1);
    assert.equal(nope.err, 'paas: build #9 not found on shop\n');
  });

  it('logs shows the last lines, filters by source, and follows until interrupted', async () => {
    api.log('shop', 'api', 'Release v5 created');
    api.log('shop', 'web.1', 'listening on 5000');
    api.log('shop', 'worker.1', 'working');
    const r = await ok('logs', '-a', 'shop', '-n', '2');
    assert.match(r.out, /^\S+Z app\[web\.1\]: listening on 5000\n\S+Z app\[worker\.1\]: working\n$/);
    assert.equal(api.requests.at(-1)?.path, '/api/apps/shop/logs?tail=2');
    assert.match((await ok('logs', '--app', 'shop', '-s', 'api')).out, /^\S+Z paas\[api\]: Release v5 created\n$/);
    assert.deepEqual(JSON.parse((await ok('logs', '-a', 'shop', '-n', '1', '--json')).out), {
      t: JSON.parse((await ok('logs', '-a', 'shop', '-n', '1', '--json')).out).t,
      source: 'worker.1',
      line: 'working',
    });

    let seen = '';
    let sawNew: () => void = () => undefined;
    const newLine = new Promise<void>((resolve) => (sawNew = resolve));
    const following = cli(['logs', '-a', 'shop', '-f', '-n', '0'], {}, (s) => {
      seen += s;
      if (seen.includes('later')) sawNew();
    });
    while (!api.requests.some((q) => q.path === '/api/apps/shop/logs?tail=0&follow=1')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    api.log('shop', 'web.1', 'later');
    await newLine;
    process.emit('SIGINT');
    const followed = await following;
    assert.equal(followed.code, 0);
    assert.match(followed.out, /^\S+Z app\[web\.1\]: later\n$/);
  });

  it('run -a APP streams the output and exits with the remote status', async () => {
    const r = await cli(['run', '-a', 'shop', 'echo', 'hi']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'running: echo hi\nhéllo wörld\n');
    assert.deepEqual(api.requests.at(-1)?.body, { command: ['echo', 'hi'] });
    const failed = await cli(['run', '--app', 'shop', '-e', 'A=1', 'exit 3']);
    assert.equal(failed.code, 3);
    assert.equal(failed.out, 'running: exit 3\nA=1\nhéllo wörld\n');
    assert.equal(failed.err, '');
    assert.deepEqual(api.requests.at(-1)?.body, { command: 'exit 3', env: { A: '1' } });
  });

  it('nodes lists the nodes', async () => {
    api.nodes.push({
      id: 'n1',
      name: 'node-1',
      address: '127.0.0.1:7100',
      memory: 4096,
      cpus: 2000,
      state: 'up',
      lastHeartbeatAt: new Date().toISOString(),
      createdAt: new Date().toISOString(),
    });
    assert.equal(
      (await ok('nodes')).out,
      'NAME     STATE   ADDRESS          CPUS   MEMORY   HEARTBEAT\nnode-1   up      127.0.0.1:7100   2      4 GiB    just now\n',
    );
  });

  it('nodes:drain and nodes:activate change a node, naming a missing one', async () => {
    const drained = await ok('nodes:drain', 'node-1');
    assert.equal(drained.out, 'Draining node-1: its instances move to other nodes, nothing new is placed on it\n');
    assert.equal(api.nodes[0]?.state, 'draining');
    assert.equal((await ok('nodes:activate', 'node-1')).out, 'node-1 is active: it takes instances again\n');
    assert.equal(api.nodes[0]?.state, 'up');
    const missing = await cli(['nodes:drain', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /node 'nope' not found/);
  });

  it('login checks the token before storing it; whoami and logout', async () => {
    const loginEnv = { PAAS_API_URL: '', PAAS_API_TOKEN: '' };
    const refused = await cli(['login', '--api', api.url, '--token', 'paas_wrong'], loginEnv);
    assert.equal(refused.code, 1);
    assert.equal(refused.err, `paas: login to ${api.url} failed: the api refused the token (unauthorized)\n`);
    const path = join(base, 'home', '.config', 'paas', 'platform.json');
    assert.throws(() => statSync(path), { code: 'ENOENT' });

    const limited = api.addToken('ci', 'paas_ci000000000000000000000000000000000000', ['shop']);
    const r = await cli(
      ['login', '--api', `${api.url}/`, '--token', 'paas_ci000000000000000000000000000000000000'],
      loginEnv,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Logged in to ${api.url}\n`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      url: api.url,
      token: 'paas_ci000000000000000000000000000000000000',
    });

    const who = await cli(['whoami'], loginEnv);
    assert.equal(who.code, 0, who.err);
    assert.equal(who.out, `=== ${api.url}\nToken: paas_ci00… (from ${path})\nAdmin: no\nApps:  1\n`);
    const apps = await cli(['apps', '--json'], loginEnv);
    assert.deepEqual(
      (JSON.parse(apps.out) as { name: string }[]).map((a) => a.name),
      ['shop'],
    );
    const forbidden = await cli(['config', '-a', 'blog'], loginEnv);
    assert.equal(forbidden.code, 1);
    assert.equal(forbidden.err, "paas: this token may not manage 'blog'\n");
    assert.equal(limited.admin, false);

    assert.equal((await cli(['logout'], loginEnv)).out, `Logged out of ${api.url}\n`);
    assert.equal((await cli(['logout'], loginEnv)).out, 'Not logged in\n');
    const anonymous = await cli(['apps'], { ...loginEnv, PAAS_API_URL: api.url });
    assert.equal(anonymous.code, 1);
    assert.equal(
      anonymous.err,
      `paas: not logged in to the paas API at ${api.url}: run 'paas login --api ${api.url}' (or set PAAS_API_TOKEN)\n`,
    );
  });

  it('tokens, tokens:create and tokens:revoke', async () => {
    const created = await ok('tokens:create', 'deploy', '--apps', 'shop,blog');
    assert.match(created.out, /^paas_[A-Za-z0-9]{40}\n$/);
    assert.match(created.err, /^Created token deploy \([0-9a-f-]{36}\); it is shown only once:\n$/);
    assert.deepEqual(api.requests.at(-1)?.body, { name: 'deploy', apps: ['shop', 'blog'] });
    const list = await ok('tokens');
    assert.match(list.out, /^ID +NAME +PREFIX +KIND +APPS +CREATED +LAST USED\n/);
    assert.match(list.out, /\bdeploy +paas_\w{4} +apps +shop,blog +just now +never\n/);
    const node = await ok('tokens:create', 'node-1', '--node');
    assert.match(node.out, /^paas_[A-Za-z0-9]{40}\n$/);
    assert.deepEqual(api.requests.at(-1)?.body, { name: 'node-1', node: true });
    assert.match((await ok('tokens')).out, /\bnode-1 +paas_\w{4} +node +\(none\) +just now +never\n/);
    const mixed = await cli(['tokens:create', 'x', '--node', '--apps', 'shop']);
    assert.equal(mixed.code, 1);
    assert.match(mixed.err, /--node makes a token for an agent/);
    const id =
      (JSON.parse((await ok('tokens', '--json')).out) as { id: string; name: string }[]).find(
        (t) => t.name === 'deploy',
      )?.id ?? '';
    assert.equal((await ok('tokens:revoke', id)).err, `Revoking token ${id}... done (deploy)\n`);
  });

  it('prints api errors and unreachable apis as `paas: <message>` with exit 1', async () => {
    const missing = await cli(['apps:info', '-a', 'nope']);
    assert.deepEqual(missing, { code: 1, out: '', err: "paas: app 'nope' not found\n" });
    const invalid = await cli(['apps:create', 'Bad_Name']);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.err, 'paas: name must be a DNS label\n');
    const refused = await cli(['apps'], { PAAS_API_URL: 'http://127.0.0.1:1' });
    assert.deepEqual(refused, {
      code: 1,
      out: '',
      err: 'paas: cannot reach the paas API at http://127.0.0.1:1: connection refused (is the api running? `paas up` starts it)\n',
    });
    const unauthorized = await cli(['apps'], { PAAS_API_TOKEN: 'paas_bad' });
    assert.equal(unauthorized.code, 1);
    assert.equal(
      unauthorized.err,
      `paas: missing or unknown token\npaas: the API at ${api.url} refused the token (token from $PAAS_API_TOKEN); run 'paas login'\n`,
    );
  });

  it('apps:info and apps:destroy (which wants --confirm and drops the git remote)', async () => {
    const info = await ok('apps:info', '-a', 'shop');
    assert.match(
      info.out,
      /^=== shop\nGit URL: +http:\/\/127\.0\.0\.1:\d+\/git\/shop\.git\nProcesses: web=2:512M worker=3:1G\nRelease: +v6\nCreated: .*UTC \(just now\)\nWeb URL: +http:\/\/shop\.localhost:8080\/\n$/,
    );
    process.chdir(repo);
    try {
      const unconfirmed = await cli(['apps:destroy']);
      assert.equal(unconfirmed.code, 1);
      assert.equal(unconfirmed.err, 'paas: this would destroy shop: re-run with --confirm shop\n');
      const wrong = await cli(['apps:destroy', '--confirm', 'blog']);
      assert.equal(wrong.err, "paas: confirmation 'blog' did not match shop; nothing was destroyed\n");
      const done = await ok('apps:destroy', '--confirm', 'shop');
      assert.equal(done.err, 'Destroying shop... done\nGit remote paas removed\n');
      assert.equal(git(repo, 'remote').trim(), 'staging');
    } finally {
      process.chdir(outside);
    }
    assert.equal((await cli(['apps:info', '-a', 'shop'])).code, 1);
  });

  it('names itself to git as a credential helper', async () => {
    const { credentialHelper } = await import('./apps/actions');
    assert.equal(credentialHelper('/usr/local/bin/paas'), '!/usr/local/bin/paas git:credentials');
    assert.equal(credentialHelper('/opt/my tools/paas'), "!'/opt/my tools/paas' git:credentials");
    assert.equal(credentialHelper('/some/test.spec.ts'), '!paas git:credentials');
    assert.equal(credentialHelper(undefined), '!paas git:credentials');
  });

  it('leaves the engine verbs alone', async () => {
    const ps = await cli(['ps', '-a']);
    assert.equal(ps.code, 0, ps.err);
    assert.match(ps.out, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n$/);
    const logs = await cli(['logs']);
    assert.equal(logs.code, 2);
    assert.match(logs.err, /missing required argument 'CONTAINER'/);
    const help = await cli(['help', 'ps']);
    assert.match(help.out, /On the platform: paas ps -a APP/);
    const platformHelp = await cli(['ps', '--app', 'x', '--help']);
    assert.match(platformHelp.out, /List an app's processes/);
  });
});
