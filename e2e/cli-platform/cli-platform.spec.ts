/**
 * The CLI's platform verbs, end to end: the built `bin/paas` against the real api (started in
 * this process with its own PAAS_ROOT, a private redis-server and SQLite), in a real git repo.
 * No login is stored at first: the CLI finds the local admin token under PAAS_ROOT, as on a
 * machine where `paas up` runs.
 *
 * The last part needs a deployed app; until the git receiver is part of the api's AppModule it
 * gets its releases straight from @paas/platform (with the host-made busybox image as their
 * image), then scales, rolls back, follows the logs and runs one-off commands in real
 * containers through the api.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, createRelease } from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import type { DataSource } from 'typeorm';
import { type PlatformApi, startLocalApi } from '../platform/support/api';
import { PAAS, type Result, cliFor, containersUnder, mountsUnder, tempRoots } from '../support/cli';

/**
 * bin/paas without blocking this process: the api answers from this very event loop, so the
 * synchronous helpers of ../support/cli would wait for an answer that cannot come.
 */
function paas(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(PAAS, args, { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

describe('paas platform verbs against the real api', () => {
  const roots = tempRoots();
  const base = join(roots.root, '..');
  const root = roots.root;
  const repo = join(base, 'repo');
  const outside = join(base, 'outside');
  let redis: LocalRedis | undefined;
  let api: PlatformApi | undefined;
  let url = '';
  let env: NodeJS.ProcessEnv = {};

  const run = (
    args: string[],
    options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Result> =>
    paas(
      args,
      { ...env, ...options.env },
      { cwd: options.cwd ?? outside, ...(options.input ? { input: options.input } : {}) },
    );
  const ok = async (
    args: string[],
    options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Result> => {
    const r = await run(args, options);
    assert.equal(r.status, 0, `paas ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });

  before(async () => {
    mkdirSync(repo, { recursive: true });
    mkdirSync(outside);
    git('init', '-q');
    // Before the api runs in this process: cliFor is synchronous.
    cliFor(roots.env).ok('image', 'bootstrap', 'busybox');
    redis = await startLocalRedis(join(base, 'redis'));
    api = await startLocalApi(base, redis.url, roots.env);
    url = api.url;
    env = {
      PATH: process.env['PATH'],
      HOME: join(base, 'home'),
      PAAS_ROOT: root,
      PAAS_RUN: roots.run,
      PAAS_API_URL: url,
    };
  });

  after(async () => {
    await api?.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    let left: { mounts: string[]; containers: string[] };
    try {
      left = {
        mounts: mountsUnder(root),
        containers: containersUnder(root),
      };
    } finally {
      roots.cleanup();
    }
    assert.deepEqual(left, { mounts: [], containers: [] }, 'the one-off runs left something behind');
  });

  it('uses the local admin token when nobody logged in', async () => {
    const who = await ok(['whoami']);
    assert.match(
      who.stdout,
      new RegExp(
        `^=== ${url}\\nToken: paas_\\S+… \\(from ${root}/platform/admin\\.token\\)\\nName:  admin\\nAdmin: yes\\nApps:  0\\n$`,
      ),
    );
    assert.equal((await ok(['apps'])).stdout, 'You have no apps.\n');
  });

  it('apps:create prints the URLs and adds the paas git remote', async () => {
    const r = await ok(['apps:create', 'e2e-app'], { cwd: repo });
    assert.match(r.stdout, new RegExp(`^http://e2e-app\\.\\S+ \\| ${url}/git/e2e-app\\.git\\n$`));
    assert.equal(r.stderr, 'Creating e2e-app... done\nGit remote paas added\n');
    assert.equal(git('config', '--get', 'remote.paas.url').trim(), `${url}/git/e2e-app.git`);
    // git asks the CLI for the token when it pushes there (and only there).
    assert.equal(git('config', '--get', `credential.${url}.helper`).trim(), `!${PAAS} git:credentials`);
    const host = new URL(url).host;
    const admin = readFileSync(join(root, 'platform', 'admin.token'), 'utf8').trim();
    const fill = execFileSync('git', ['credential', 'fill'], {
      cwd: repo,
      env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      input: `protocol=http\nhost=${host}\n\n`,
      encoding: 'utf8',
    });
    assert.equal(fill, `protocol=http\nhost=${host}\nusername=paas\npassword=${admin}\n`);
    const elsewhere = await ok(['git:credentials', 'get'], { input: 'protocol=https\nhost=github.com\n\n' });
    assert.equal(elsewhere.stdout, '');
    const taken = await run(['apps:create', 'e2e-app']);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /^paas: .*e2e-app.*\n$/);
    const invalid = await run(['apps:create', 'Not_A_Label']);
    assert.equal(invalid.status, 1);
    assert.match(invalid.stderr, /^paas: /);
    await ok(['apps:create', 'e2e-other']);
    assert.match((await ok(['apps'])).stdout, /^=== Apps\n(?:.*\n)*e2e-app +- +http:\/\/e2e-app\.\S+\n/);
  });

  it('finds the app from the git remote, or says how to name it', async () => {
    const info = await ok(['apps:info'], { cwd: repo });
    assert.match(info.stdout, new RegExp(`^=== e2e-app\\nGit URL: +${url}/git/e2e-app\\.git\\n`));
    assert.match(info.stdout, /^Release: +none \(push to deploy\)$/m);
    const lost = await run(['apps:info']);
    assert.equal(lost.status, 1);
    assert.equal(lost.stderr, 'paas: no app specified: use -a APP or run inside a repo with a "paas" git remote\n');
    assert.match((await ok(['apps:info', '-a', 'e2e-other'])).stdout, /^=== e2e-other\n/);
    assert.match((await ok(['apps:info'], { env: { PAAS_APP: 'e2e-other' } })).stdout, /^=== e2e-other\n/);
  });

  it('config:set, config, config:get, config:unset', async () => {
    const set = await ok(['config:set', 'GREETING=hello world', 'MODE=test', 'EMPTY='], { cwd: repo });
    assert.match(
      set.stderr,
      /^Setting GREETING, MODE and EMPTY and restarting e2e-app\.\.\. done, (v\d+|no release yet)\n$/,
    );
    assert.equal(set.stdout, 'GREETING: hello world\nMODE:     test\nEMPTY:\n');
    assert.equal(
      (await ok(['config'], { cwd: repo })).stdout,
      '=== e2e-app Config Vars\nEMPTY:\nGREETING: hello world\nMODE:     test\n',
    );
    assert.equal(
      (await ok(['config', '--shell', '-a', 'e2e-app'])).stdout,
      "EMPTY=''\nGREETING='hello world'\nMODE=test\n",
    );
    assert.deepEqual(JSON.parse((await ok(['config', '--json', '-a', 'e2e-app'])).stdout), {
      EMPTY: '',
      GREETING: 'hello world',
      MODE: 'test',
    });
    assert.equal((await ok(['config:get', 'GREETING', '-a', 'e2e-app'])).stdout, 'hello world\n');
    await ok(['config:unset', 'EMPTY', 'MODE', '-a', 'e2e-app']);
    assert.deepEqual(JSON.parse((await ok(['config', '--json', '-a', 'e2e-app'])).stdout), { GREETING: 'hello world' });
    // unsetting what is not set, or setting what is already so, says so and makes no release
    const releases = (await ok(['releases', '--json', '-a', 'e2e-app'])).stdout;
    const notSet = await ok(['config:unset', 'MODE', '-a', 'e2e-app']);
    assert.equal(notSet.stderr, 'MODE is not set on e2e-app: no change, no release\n');
    const same = await ok(['config:set', 'GREETING=hello world', '-a', 'e2e-app']);
    assert.equal(same.stderr, 'GREETING has this value on e2e-app already: no change, no release\n');
    assert.equal((await ok(['releases', '--json', '-a', 'e2e-app'])).stdout, releases);
    const bad = await run(['config:set', '-a', 'e2e-app', '9LIVES=x']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^paas: /);
    const usage = await run(['config:set', '-a', 'e2e-app', 'NOEQUALS']);
    assert.equal(usage.status, 2);
    assert.equal(usage.stderr, "paas: invalid config var 'NOEQUALS': expected KEY=value\n");
  });

  it('releases lists what the config changes made', async () => {
    const list = await ok(['releases', '-a', 'e2e-app']);
    if (list.stdout === 'e2e-app has no releases.\n') return; // the api makes releases only once deployed
    assert.match(list.stdout, /^=== e2e-app Releases( - Current: v\d+)?\n(v\d+ {2}.+\n)+$/);
    const json = JSON.parse((await ok(['releases', '-a', 'e2e-app', '--json'])).stdout) as { version: number }[];
    const info = await ok(['releases:info', `v${json[0]?.version}`, '-a', 'e2e-app']);
    assert.match(info.stdout, new RegExp(`^=== Release v${json[0]?.version}\\n`));
    assert.match(info.stdout, /=== v\d+ Config vars\nGREETING: hello world\n$/);
  });

  it('ps:scale and ps before a deploy', async () => {
    const scale = await run(['ps:scale', 'web=2', '-a', 'e2e-app']);
    assert.equal(scale.status, 1);
    assert.match(scale.stderr, /^paas: .*web/);
    const parse = await run(['ps:scale', 'web=two', '-a', 'e2e-app']);
    assert.equal(parse.status, 2);
    assert.match(parse.stderr, /^paas: invalid scale argument 'web=two'/);
    assert.equal((await ok(['ps', '-a', 'e2e-app'])).stdout, 'No processes are running on e2e-app.\n');
    assert.deepEqual(JSON.parse((await ok(['ps', '--app', 'e2e-app', '--json'])).stdout), []);
  });

  it('domains:add, domains, domains:remove, domains:clear', async () => {
    assert.equal(
      (await ok(['domains:add', 'www.e2e-app.example', '-a', 'e2e-app'])).stderr,
      'Adding www.e2e-app.example to e2e-app... done\n',
    );
    const list = await ok(['domains', '-a', 'e2e-app']);
    assert.match(
      list.stdout,
      /^=== e2e-app Default Domain\ne2e-app\.\S+\n\n=== e2e-app Custom Domains\nDomain Name +Added\nwww\.e2e-app\.example +\S.*\n$/,
    );
    const taken = await run(['domains:add', 'www.e2e-app.example', '-a', 'e2e-other']);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /^paas: /);
    await ok(['domains:remove', 'www.e2e-app.example', '-a', 'e2e-app']);
    assert.deepEqual(JSON.parse((await ok(['domains', '-a', 'e2e-app', '--json'])).stdout), []);
    await ok(['domains:add', 'a.e2e-app.example', '-a', 'e2e-app']);
    await ok(['domains:add', 'b.e2e-app.example', '-a', 'e2e-app']);
    assert.equal(
      (await ok(['domains:clear', '-a', 'e2e-app'])).stderr,
      'Removing all 2 custom domains from e2e-app... done\n',
    );
    assert.deepEqual(JSON.parse((await ok(['domains', '-a', 'e2e-app', '--json'])).stdout), []);
  });

  it('builds, logs and nodes', async () => {
    assert.equal(
      (await ok(['builds', '-a', 'e2e-app'])).stdout,
      'e2e-app has no builds: git push paas main starts one.\n',
    );
    const logs = await ok(['logs', '-a', 'e2e-app', '-n', '50']);
    for (const line of logs.stdout.split('\n').filter(Boolean)) assert.match(line, /^\S+ (app|paas)\[[^\]]+\]: /);
    assert.match((await ok(['nodes'])).stdout, /^NAME +STATE +ADDRESS +CPUS +MEMORY +HEARTBEAT\n/);
  });

  it('tokens:create makes a token limited to its apps', async () => {
    const created = await ok(['tokens:create', 'ci', '--apps', 'e2e-app']);
    const token = created.stdout.trim();
    assert.match(token, /^paas_[A-Za-z0-9]{40}$/);
    const limited = { PAAS_API_TOKEN: token };
    assert.deepEqual(
      (JSON.parse((await ok(['apps', '--json'], { env: limited })).stdout) as { name: string }[]).map((a) => a.name),
      ['e2e-app'],
    );
    const forbidden = await run(['config', '-a', 'e2e-other'], { env: limited });
    assert.equal(forbidden.status, 1);
    assert.match(forbidden.stderr, /^paas: /);
    assert.match((await ok(['whoami'], { env: limited })).stdout, /^Admin: no$/m);
    const tokens = JSON.parse((await ok(['tokens', '--json'])).stdout) as { id: string; name: string }[];
    const ci = tokens.find((t) => t.name === 'ci');
    assert.ok(ci);
    await ok(['tokens:revoke', ci.id]);
    const revoked = await run(['apps'], { env: limited });
    assert.equal(revoked.status, 1);
    assert.match(revoked.stderr, /refused the token \(token from \$PAAS_API_TOKEN\); run 'paas login'/);
  });

  it('login reads the token from stdin, checks it, stores it 0600; logout forgets it', async () => {
    const admin = readFileSync(join(root, 'platform', 'admin.token'), 'utf8').trim();
    const noLocal = { PAAS_API_URL: '', PAAS_ROOT: join(base, 'elsewhere') };
    const anonymous = await run(['apps'], { env: { ...noLocal, PAAS_API_URL: url } });
    assert.equal(anonymous.status, 1);
    assert.equal(
      anonymous.stderr,
      `paas: not logged in to the paas API at ${url}: run 'paas login --api ${url}' (or set PAAS_API_TOKEN)\n`,
    );

    const wrong = await run(['login', '--api', url], { env: noLocal, input: 'paas_wrongwrongwrong\n' });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^paas: login to .* failed: the api refused the token/);
    const stored = join(base, 'home', '.config', 'paas', 'platform.json');
    assert.throws(() => statSync(stored), { code: 'ENOENT' });

    const good = await run(['login', '--api', url], { env: noLocal, input: `${admin}\n` });
    assert.equal(good.status, 0, good.stderr);
    assert.equal(good.stdout, `Logged in to ${url}\n`);
    assert.equal(statSync(stored).mode & 0o777, 0o600);
    assert.match((await ok(['whoami'], { env: noLocal })).stdout, new RegExp(`Token: paas_\\S+… \\(from ${stored}\\)`));
    assert.equal((await ok(['apps', '--json'], { env: noLocal })).status, 0);

    // The registry's login keeps its meaning.
    const registry = await run(['login', '127.0.0.1:1', '-u', 'x', '--password-stdin'], {
      env: noLocal,
      input: 'pw\n',
    });
    assert.equal(registry.status, 1);
    assert.match(registry.stderr, /^Error: login to 127\.0\.0\.1:1 failed/);

    assert.equal((await ok(['logout'], { env: noLocal })).stdout, `Logged out of ${url}\n`);
    assert.equal((await run(['apps'], { env: noLocal })).status, 1);
  });

  it('reports api errors and an unreachable api as `paas: <message>`', async () => {
    const missing = await run(['apps:info', '-a', 'nope']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^paas: .*nope.*not found\n$/);
    const down = await run(['apps'], { env: { PAAS_API_URL: 'http://127.0.0.1:1' } });
    assert.equal(down.status, 1);
    assert.equal(
      down.stderr,
      'paas: cannot reach the paas API at http://127.0.0.1:1: connection refused (is the api running? `paas up` starts it)\n',
    );
  });

  it('apps:destroy wants --confirm, then removes the app and its git remote', async () => {
    const unconfirmed = await run(['apps:destroy'], { cwd: repo });
    assert.equal(unconfirmed.status, 1);
    assert.equal(unconfirmed.stderr, 'paas: this would destroy e2e-app: re-run with --confirm e2e-app\n');
    const r = await ok(['apps:destroy', '--confirm', 'e2e-app'], { cwd: repo });
    assert.equal(r.stderr, 'Destroying e2e-app... done\nGit remote paas removed\n');
    assert.equal(git('remote').trim(), '');
    await ok(['apps:destroy', '-a', 'e2e-other', '--confirm', 'e2e-other']);
    assert.equal((await ok(['apps'])).stdout, 'You have no apps.\n');
  });

  describe('a deployed app', () => {
    let dataSource: DataSource;
    let appId = '';

    /** A release as a deploy makes it, running the host-made busybox image. */
    const deploy = async (commit: string): Promise<void> => {
      await createRelease(dataSource, {
        appId,
        description: `Deploy ${commit}`,
        imageRef: 'busybox:latest',
        imageDigest: null,
        processTypes: { web: 'httpd -f -p $PORT', worker: 'sleep 3600' },
        createdBy: 'e2e',
      });
    };

    before(async () => {
      dataSource = (api as PlatformApi).dataSource;
      await ok(['apps:create', 'e2e-deployed']);
      appId = (await dataSource.manager.findOneByOrFail(App, { name: 'e2e-deployed' })).id;
      await ok(['config:set', 'GREETING=hi there', '-a', 'e2e-deployed']);
      await deploy('1111111');
      await deploy('2222222');
    });

    it('releases and releases:info show the deploys', async () => {
      // no node is up here: v3 deploys, and waits for capacity once the scheduler has looked
      const list = await ok(['releases', '-a', 'e2e-deployed']);
      assert.match(
        list.stdout,
        /^=== e2e-deployed Releases - Current: v3\nv3 {2}Deploy 2222222 \(deploying(, waiting for capacity)?\) +e2e +just now\nv2 {2}Deploy 1111111 +e2e +just now\nv1 {2}.*\n$/,
      );
      const info = await ok(['releases:info', '-a', 'e2e-deployed']);
      assert.match(
        info.stdout,
        /^=== Release v3\nBy: +e2e\nChange: +Deploy 2222222\nCurrent: +yes\nImage: +busybox:latest\n[^]*\nStatus: +deploying\n/,
      );
      assert.match(info.stdout, /\n=== v3 Config vars\nGREETING: hi there\n$/);
    });

    it('ps:scale scales the process types and shows them', async () => {
      const scaled = await ok(['ps:scale', 'web=2', 'worker=1', '-a', 'e2e-deployed']);
      // no node is up here: what was asked waits, and ps:scale says so
      assert.equal(
        scaled.stderr,
        'Scaling processes... done, web at 2:basic (0 of 2 up, 2 waiting: no node is up) and worker at 1:basic (0 of 1 up, 1 waiting: no node is up)\n',
      );
      assert.equal((await ok(['ps:scale', '-a', 'e2e-deployed'])).stdout, 'web=2:basic worker=1:basic\n');
      await ok(['ps:scale', 'worker=-1', '-a', 'e2e-deployed']);
      assert.equal((await ok(['ps:scale', 'worker', '-a', 'e2e-deployed'])).stdout, 'worker=0:basic\n');
      const unknown = await run(['ps:scale', 'clock=1', '-a', 'e2e-deployed']);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^paas: .*clock/);
    });

    it('rollback goes back to the previous deploy, or to the one named', async () => {
      const back = await ok(['rollback', '-a', 'e2e-deployed']);
      // no node runs it here: it deploys, waits, and says so
      assert.match(
        back.stderr,
        /^Rolling back e2e-deployed to v2\.\.\. done, v4 \(deploying, waiting: Waiting for room for 2 web \(256 MiB\): no node is up\)\n$/,
      );
      const named = await ok(['rollback', 'v3', '-a', 'e2e-deployed', '--json', '--no-wait']);
      assert.equal(named.stderr, 'Rolling back e2e-deployed to v3... done, v5 (deploying)\n');
      assert.equal((JSON.parse(named.stdout) as { version: number }).version, 5);
      const imageless = await run(['rollback', 'v1', '-a', 'e2e-deployed']);
      assert.equal(imageless.status, 1);
      assert.match(imageless.stderr, /^paas: /);
    });

    it('run -a APP streams a one-off container and exits with its status', async () => {
      const hello = await run(['run', '-a', 'e2e-deployed', 'echo "$GREETING on $PORT"; echo to stderr >&2']);
      assert.equal(hello.status, 0, hello.stderr);
      assert.equal(hello.stdout, 'hi there on 5000\nto stderr\n');
      const failed = await run([
        'run',
        '--app',
        'e2e-deployed',
        '-e',
        'CODE=3',
        '--',
        'sh',
        '-c',
        'echo failing; exit $CODE',
      ]);
      assert.equal(failed.status, 3);
      assert.equal(failed.stdout, 'failing\n');
      const partial = await run(['run', '-a', 'e2e-deployed', 'printf no-newline']);
      assert.equal(partial.status, 0);
      assert.equal(partial.stdout, 'no-newline\n');
      const missing = await run(['run', '-a', 'e2e-deployed', '--', 'no-such-command']);
      assert.equal(missing.status, 127, missing.stdout + missing.stderr);
    });

    it('logs shows the platform events, and -f follows new ones until interrupted', async () => {
      const logs = await ok(['logs', '-a', 'e2e-deployed']);
      assert.match(logs.stdout, /^\S+ paas\[\w+\]: Rollback to v3 by admin$/m);
      assert.match(
        logs.stdout,
        /^\S+ paas\[\w+\]: Starting process with command `\/bin\/sh -c echo "\$GREETING on \$PORT"; echo to stderr >&2` by admin$/m,
      );

      const child = spawn(PAAS, ['logs', '-a', 'e2e-deployed', '-f', '-n', '1'], { env, cwd: outside });
      let out = '';
      let connected: () => void = () => undefined;
      const first = new Promise<void>((resolve) => (connected = resolve));
      const seen = new Promise<void>((resolve) =>
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          connected();
          if (/Scaled to/.test(out)) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        // The last line came: the follower is connected. Now make an event.
        await first;
        await ok(['ps:scale', 'web=1', '-a', 'e2e-deployed']);
        await seen;
        child.kill('SIGINT');
        assert.equal(await exited, 0);
        assert.match(out, /^\S+ paas\[\w+\]: Scaled to web\S*1\b.* by admin$/m);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
