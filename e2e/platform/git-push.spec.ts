/**
 * `git push paas main` for real: git's smart HTTP through the api started in this process,
 * the proc-receive hook, BullMQ on a private redis-server, the engine's builder, paas-runtime
 * and paas-shim for the release command, and a registry on loopback with token auth (the
 * workers log in as the platform's builder, as under `paas up`), all in a temporary
 * PAAS_ROOT with the host-made busybox and node base images. No build reaches the network:
 * the test app has no dependencies.
 *
 * Phase 1 runs the api with one in-process build worker; phase 2 runs it with none and
 * builds in separate worker processes, one of which is SIGKILLed mid-build.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { App, Build, ConfigVar, Release, appLogKey, currentRelease, issueToken, tailLog } from '@paas/platform';
import { startLocalRedis, type LocalRedis } from '@paas/platform/testing';
import {
  type Credentials,
  RegistryClient,
  type RunningRegistry,
  ensurePlatformRegistryUsers,
  startRegistry,
} from '@paas/registry';
import type { DataSource } from 'typeorm';
import { type ApiConfig, buildEnvironment, loadApiConfig } from '@paas/api/testing';
import { runBuild } from '@paas/platform/builds';
import { cgroupsLeftSince, cliFor, isAlive, containersUnder, mountsUnder, tempRoots, WORKSPACE } from '../support/cli';
import {
  type GitResult,
  gitAsync,
  gitCommit,
  gitEnv,
  gitSync,
  remoteLines as remote,
  waitFor,
} from '../support/platform';
import { type PlatformApi, startPlatformApi } from './support/api';
import { buildStepsRootOf } from '@paas/builder';

const startedAt = Date.now();
const roots = tempRoots();
const base = join(roots.root, '..');
const { ok } = cliFor(roots.env);

const GIT_ENV = gitEnv(join(base, 'home'));
/** Local git commands (never the api: a synchronous child would stall this process's api). */
const gitOk = (dir: string, ...args: string[]): string => gitSync(GIT_ENV, dir, ...args);
/** git talking to the api (push, ls-remote, clone), which runs in this process. */
const git = (dir: string, ...args: string[]): Promise<GitResult> => gitAsync(GIT_ENV, dir, ...args);

async function remoteHead(dir: string, remoteName: string): Promise<string> {
  const r = await git(dir, 'ls-remote', remoteName, 'refs/heads/main');
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\t')[0] ?? '';
}

/** A working tree with these files, committed. */
function repoWith(name: string, files: Record<string, string>): string {
  const dir = join(base, 'src', name);
  mkdirSync(dir, { recursive: true });
  gitOk(dir, 'init', '--quiet', '--initial-branch=main');
  commit(dir, files, 'first');
  return dir;
}

const commit = (dir: string, files: Record<string, string | null>, message: string): string =>
  gitCommit(GIT_ENV, dir, files, message);

const NODE_APP = {
  'package.json': `${JSON.stringify({ name: 'hello', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }, null, 2)}\n`,
  'package-lock.json': `${JSON.stringify({ name: 'hello', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'hello', version: '1.0.0' } } }, null, 2)}\n`,
  'server.js': "require('http').createServer((req, res) => res.end('hello v1\\n')).listen(process.env.PORT || 5000);\n",
  Procfile: 'web: npm start\nrelease: echo "release phase for $GREETING" && node -e "process.exit(0)"\n',
};

async function createApp(dataSource: DataSource, name: string): Promise<App> {
  const app = dataSource.manager.create(App, { id: crypto.randomUUID(), name });
  await dataSource.manager.insert(App, app);
  return app;
}

let registry: RunningRegistry;
/** PAAS_REGISTRY_USER/PASSWORD of the builder, as `paas up` gives them to the api. */
let registryLogin: Record<string, string>;
let nodeLogin: Credentials;
let redis: LocalRedis;
const processes: ChildProcess[] = [];

function config(workers: number, redisUrl = redis.url): ApiConfig {
  return loadApiConfig({
    ...roots.env,
    PAAS_REGISTRY_ADDR: registry.host,
    ...registryLogin,
    REDIS_URL: redisUrl,
    PAAS_BUILD_WORKERS: String(workers),
    // short lock and stalled-check times, the same for every worker of the queue, so that a
    // SIGKILLed worker's job is taken over within seconds
    PAAS_BUILD_LOCK_MS: '2000',
    PAAS_BUILD_STALLED_MS: '1000',
  });
}

before(async () => {
  mkdirSync(join(base, 'home'), { recursive: true });
  ok('image', 'bootstrap', 'busybox', 'node');
  const { builder, node } = await ensurePlatformRegistryUsers(join(base, 'registry'), join(base, 'platform'));
  nodeLogin = node;
  registryLogin = { PAAS_REGISTRY_USER: builder.username, PAAS_REGISTRY_PASSWORD: builder.password };
  registry = await startRegistry({
    root: join(base, 'registry'),
    listen: { host: '127.0.0.1', port: 0 },
    auth: 'token',
  });
  redis = await startLocalRedis(join(base, 'redis'));
});

after(async () => {
  for (const child of processes) if (child.pid && isAlive(child.pid)) child.kill('SIGKILL');
  await redis?.stop();
  await registry?.close();
  const left = {
    mounts: mountsUnder(roots.root),
    steps: existsSync(buildStepsRootOf(roots.root)) ? readdirSync(buildStepsRootOf(roots.root)) : [],
    checkouts: existsSync(join(roots.root, 'platform', 'builds'))
      ? readdirSync(join(roots.root, 'platform', 'builds'))
      : [],
    containers: containersUnder(roots.root),
    runtime: existsSync(join(roots.run, 'runtime')) ? readdirSync(join(roots.run, 'runtime')) : [],
    cgroups: cgroupsLeftSince(startedAt),
  };
  roots.cleanup();
  assert.deepEqual(
    left,
    { mounts: [], steps: [], checkouts: [], containers: [], runtime: [], cgroups: [] },
    'the pushes left something behind',
  );
});

describe('git push paas main (api with an in-process build worker)', () => {
  let api: PlatformApi;
  let token: string;
  let app: App;
  let dir: string;
  let remoteUrl: string;
  let lastGood = '';

  before(async () => {
    api = await startPlatformApi(config(1));
    token = (await issueToken(api.dataSource.manager, { name: 'admin', admin: true })).token;
    app = await createApp(api.dataSource, 'hello');
    await api.dataSource.manager.insert(ConfigVar, { appId: app.id, key: 'GREETING', value: 'hello-config' });
    dir = repoWith('hello', NODE_APP);
    remoteUrl = `${api.url.replace('http://', `http://git:${token}@`)}/git/hello.git`;
    gitOk(dir, 'remote', 'add', 'paas', remoteUrl);
  });
  after(async () => {
    await api?.close();
  });

  const releases = (): Promise<Release[]> =>
    api.dataSource.manager.find(Release, { where: { appId: app.id }, order: { version: 'ASC' } });

  it('builds and releases a Node.js app, streaming the build as remote: lines', async () => {
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.equal(push.status, 0, push.stderr);
    const head = gitOk(dir, 'rev-parse', 'HEAD');
    lastGood = head;
    for (const line of [
      `-----> Building hello from main (${head.slice(0, 7)})`,
      '-----> Node.js app detected',
      '       Procfile declares process types: web, release',
      '-----> Building image',
      '       Step 1/9 : FROM node:20',
      '       Step 6/9 : RUN --mount=type=cache,id=npm,target=/root/.npm npm ci --omit=dev --no-audit --no-fund --no-update-notifier',
      `-----> Pushing ${registry.host}/hello:v1`,
      '-----> Running release command: echo "release phase for $GREETING" && node -e "process.exit(0)"',
      '       release phase for hello-config',
      '-----> Released v1',
      '-----> Launching...',
      '       Not started: no node is up: v1 starts when one registers',
    ]) {
      assert.ok(out.includes(line), `missing ${JSON.stringify(line)} in:\n${out.join('\n')}`);
    }
    assert.ok(out.indexOf('-----> Released v1') > out.indexOf('       release phase for hello-config'));
    assert.match(push.stderr, /\* \[new branch\] +main -> main/);

    const [v1, ...more] = await releases();
    assert.equal(more.length, 0);
    assert.equal(v1?.status, 'deploying', 'no node is up: it waits for one');
    assert.equal(v1?.imageRef, `${registry.host}/hello:v1`);
    assert.deepEqual(v1?.processTypes, {
      web: 'npm start',
      release: 'echo "release phase for $GREETING" && node -e "process.exit(0)"',
    });
    assert.deepEqual(v1?.config, { GREETING: 'hello-config' });
    assert.equal(v1?.createdBy, 'admin');
    // the api's own lines (the scheduler's, about placing v1, come in between)
    const events = (await tailLog(api.redis, appLogKey(app.id), 20))
      .filter((e) => e.source === 'api')
      .map((e) => `${e.source}: ${e.line}`);
    assert.deepEqual(events, [
      'api: Build 1 started by admin',
      `api: Deploy ${head.slice(0, 8)} by admin`,
      'api: Release v1 created by admin',
    ]);
    const build = await api.dataSource.manager.findOneByOrFail(Build, { appId: app.id, number: 1 });
    assert.equal(build.status, 'succeeded');
    assert.equal(build.stack, 'node');
    assert.equal(build.releaseId, v1?.id);
    assert.equal(build.attempts, 1);
    assert.match(build.output, /-----> Released v1\n/);
    // read as a node would: with the pull-only login (anonymous clients get 401)
    assert.equal((await fetch(`${registry.url}/v2/hello/tags/list`)).status, 401);
    const asNode = new RegistryClient(registry.host, { credentials: nodeLogin });
    const listed = await asNode.request('/v2/hello/tags/list', { scopes: ['repository:hello:pull'] });
    const tags = (await listed.json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
    assert.equal(await remoteHead(dir, 'paas'), head);
    // the release image runs the app's code
    assert.match(ok('run', '--rm', `${registry.host}/hello:v1`, 'cat', '/app/server.js'), /hello v1/);
    // a start script runs without npm (detect.ts): node_modules/.bin first on PATH, as npm puts it
    assert.match(
      ok('run', '--rm', `${registry.host}/hello:v1`, 'sh', '-c', 'echo $PATH'),
      /^\/app\/node_modules\/\.bin:\/usr\/local\/sbin:/,
    );
  });

  it('reuses the dependency layer when one file changes, and is done in under 10 s', async () => {
    const head = commit(dir, { 'server.js': NODE_APP['server.js'].replace('hello v1', 'hello v2') }, 'second');
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.equal(push.status, 0, push.stderr);
    const install = out.findIndex((l) =>
      /^ {7}Step 6\/9 : RUN --mount=type=cache,id=npm,target=\/root\/\.npm npm ci /.test(l),
    );
    assert.ok(install >= 0, out.join('\n'));
    assert.equal(out[install + 1], '        ---> Using cache', out.join('\n'));
    const copy = out.findIndex((l) => l === '       Step 7/9 : COPY . .');
    assert.notEqual(out[copy + 1], '        ---> Using cache', 'the changed file is copied again');
    assert.ok(out.includes('-----> Released v2'), out.join('\n'));
    console.log(`second push took ${push.ms} ms`);
    assert.ok(push.ms < 10_000, `the second push took ${push.ms} ms`);
    lastGood = head;
    assert.equal((await currentRelease(api.dataSource.manager, app.id))?.version, 2);
  });

  it('rejects a push whose Dockerfile does not parse, with the error line; v2 stays current', async () => {
    commit(dir, { Dockerfile: 'FROM busybox\nFORM busybox\n' }, 'broken dockerfile');
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.notEqual(push.status, 0);
    assert.ok(out.includes('-----> Dockerfile app detected'), out.join('\n'));
    assert.ok(out.includes(' !     Dockerfile:2:1: unknown instruction: FORM (did you mean FROM?)'), out.join('\n'));
    assert.ok(out.includes(' !     Build failed'), out.join('\n'));
    assert.match(push.stderr, /! \[remote rejected\] main -> main \(build failed\)/);
    assert.equal(await remoteHead(dir, 'paas'), lastGood, 'the branch did not move');
    assert.equal((await currentRelease(api.dataSource.manager, app.id))?.version, 2);
    assert.equal((await releases()).length, 2);
    const build = await api.dataSource.manager.findOneByOrFail(Build, { appId: app.id, number: 3 });
    assert.equal(build.status, 'failed');
    assert.equal(build.attempts, 1, 'an app error is not retried');
    assert.equal(build.error, 'Dockerfile:2:1: unknown instruction: FORM (did you mean FROM?)');
  });

  it('rejects a push whose RUN step fails, showing its output', async () => {
    commit(dir, { Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\n' }, 'failing step');
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.notEqual(push.status, 0);
    assert.ok(out.includes('       about to fail'), out.join('\n'));
    assert.ok(
      out.includes(" !     The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3"),
      out.join('\n'),
    );
    assert.match(push.stderr, /! \[remote rejected\] main -> main \(build failed\)/);
    assert.equal((await currentRelease(api.dataSource.manager, app.id))?.version, 2);
  });

  it('rejects a push whose release command fails: the release fails, v2 stays current', async () => {
    gitOk(dir, 'reset', '--quiet', '--hard', lastGood);
    commit(dir, { Procfile: 'web: npm start\nrelease: echo migrating && exit 7\n' }, 'failing release');
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.notEqual(push.status, 0);
    assert.ok(out.includes('       migrating'), out.join('\n'));
    assert.ok(out.includes(' !     release command failed with exit code 7: v3 was not released'), out.join('\n'));
    assert.match(push.stderr, /! \[remote rejected\] main -> main \(build failed\)/);
    const all = await releases();
    assert.deepEqual(
      all.map((r) => [r.version, r.status]),
      [
        [1, 'superseded'],
        [2, 'deploying'],
        [3, 'failed'],
      ],
    );
    assert.equal((await currentRelease(api.dataSource.manager, app.id))?.version, 2);
    assert.equal(await remoteHead(dir, 'paas'), lastGood);
    gitOk(dir, 'reset', '--quiet', '--hard', lastGood);
  });

  it('refuses pushes without a token, with a wrong one, and with one for another app', async () => {
    const bare = `${api.url}/git/hello.git`;
    const none = await git(dir, 'push', bare, 'main');
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /could not read Username|Authentication failed/);
    const wrong = await git(dir, 'push', bare.replace('http://', `http://git:paas_${'x'.repeat(40)}@`), 'main');
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /Authentication failed/);
    const other = (await issueToken(api.dataSource.manager, { name: 'other', apps: ['other-app'] })).token;
    const scoped = await git(dir, 'push', bare.replace('http://', `http://git:${other}@`), 'main');
    assert.notEqual(scoped.status, 0);
    assert.match(scoped.stderr, /The requested URL returned error: 403/);
    const res = await fetch(`${bare}/info/refs?service=git-receive-pack`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="paas"');
    const missing = await git(dir, 'ls-remote', `${api.url.replace('http://', `http://git:${token}@`)}/git/nope.git`);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /not found/);
    assert.equal((await releases()).length, 3);
  });

  it('takes tags without a build, refuses to delete main, and serves clones', async () => {
    // a tag is stored as pushed; a branch would make a review app (zero-downtime.spec.ts)
    const builds = await api.dataSource.manager.count(Build);
    const branch = await git(dir, 'push', 'paas', 'main:refs/tags/feature');
    assert.equal(branch.status, 0, branch.stderr);
    assert.deepEqual(remote(branch.stderr), []);
    assert.equal(await api.dataSource.manager.count(Build), builds);
    const del = await git(dir, 'push', 'paas', ':main');
    assert.notEqual(del.status, 0);
    assert.match(
      del.stderr,
      /! \[remote rejected\] main \(deleting main is not allowed: it is the branch paas deploys\)/,
    );
    const clone = join(base, 'clone');
    const cloned = await git(base, 'clone', '--quiet', remoteUrl, clone);
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(gitOk(clone, 'rev-parse', 'HEAD'), lastGood);

    // a push bigger than git's http.postBuffer goes chunked, after a probe request
    gitOk(dir, 'checkout', '--quiet', '-b', 'big');
    commit(dir, { 'blob.bin': randomBytes(3 * 1024 * 1024).toString('base64') }, 'big file');
    const big = await git(dir, 'push', 'paas', 'big:refs/tags/big');
    assert.equal(big.status, 0, big.stderr);
    assert.match(big.stderr, /\* \[new tag\] +big -> big/);
    assert.equal(await api.dataSource.manager.count(Build), builds);
    gitOk(dir, 'checkout', '--quiet', 'main');
  });

  it('takes gzip-compressed request bodies', async () => {
    const line = (text: string): string => `${(text.length + 4).toString(16).padStart(4, '0')}${text}`;
    const body = gzipSync(`${line(`want ${lastGood} ofs-delta\n`)}0000${line('done\n')}`);
    const res = await fetch(`${api.url}/git/hello.git/git-upload-pack`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-git-upload-pack-request',
        'Content-Encoding': 'gzip',
        Authorization: `Basic ${Buffer.from(`git:${token}`).toString('base64')}`,
      },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result');
    const pack = Buffer.from(await res.arrayBuffer());
    assert.equal(pack.subarray(0, 8).toString(), '0008NAK\n');
    assert.equal(pack.subarray(8, 12).toString(), 'PACK');
  });

  // last in this api's life: it locks 127.0.0.1 out for a minute
  it('answers 429 to wrong tokens after 10 of them from one address within a minute, never to a valid one', async () => {
    const wrong = `Basic ${Buffer.from(`git:paas_${'y'.repeat(40)}`).toString('base64')}`;
    const refs = `${api.url}/git/hello.git/info/refs?service=git-upload-pack`;
    // the wrong-token push above counted already: some 401s, then 429 from the 10th failure on
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await fetch(refs, { headers: { Authorization: wrong } })).status);
    const first429 = statuses.indexOf(429);
    assert.ok(first429 > 0 && first429 <= 10, statuses.join(' '));
    assert.ok(statuses.slice(0, first429).every((s) => s === 401) && statuses.slice(first429).every((s) => s === 429));
    const limited = await fetch(refs, { headers: { Authorization: wrong } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const valid = await fetch(refs, {
      headers: { Authorization: `Basic ${Buffer.from(`git:${token}`).toString('base64')}` },
    });
    assert.equal(valid.status, 200, 'a valid token is never refused');
    await valid.arrayBuffer();
  });

  it("apps:destroy takes the app's release images out of the registry and the node's store", async () => {
    const made = (await releases()).filter((r) => r.imageRef);
    assert.ok(made.length >= 2, 'the pushes above made release images');
    const reader = new RegistryClient(registry.host, { credentials: nodeLogin });
    const tags = async (): Promise<string[]> => {
      const res = await reader.request('/v2/hello/tags/list', { scopes: ['repository:hello:pull'], accept: [404] });
      return res.status === 404 ? [] : (((await res.json()) as { tags: string[] | null }).tags ?? []);
    };
    assert.ok((await tags()).length >= 2);
    const stored = (): string[] =>
      ok('images')
        .split('\n')
        .filter((line) => line.startsWith(`${registry.host}/hello `));
    assert.ok(stored().length >= 2, ok('images'));
    const destroyed = await fetch(`${api.url}/api/apps/hello`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(destroyed.status, 200, await destroyed.text());
    // removed after the answer
    await waitFor('no tag of the app left in the registry', 30_000, async () => (await tags()).length === 0);
    await waitFor('no release image left in the store', 30_000, async () => stored().length === 0);
    for (const release of made) {
      const manifest = await reader.request(`/v2/hello/manifests/${release.imageDigest}`, {
        method: 'HEAD',
        scopes: ['repository:hello:pull'],
        accept: [404],
      });
      assert.equal(manifest.status, 404, `v${release.version}'s manifest is gone`);
    }
  });
});

describe('a build worker killed mid-build (api without in-process workers)', () => {
  let api: PlatformApi;
  let token: string;
  // a Redis of its own, so that this queue holds only this test's jobs
  let queueRedis: LocalRedis;

  before(async () => {
    queueRedis = await startLocalRedis(join(base, 'redis-2'));
    api = await startPlatformApi(config(0, queueRedis.url));
    token = (await issueToken(api.dataSource.manager, { name: 'admin2', admin: true })).token;
  });
  after(async () => {
    await api?.close();
    await queueRedis?.stop();
  });

  function startWorker(): { child: ChildProcess; ready: Promise<void>; output: () => string } {
    // the api's own worker entry: `main.js worker`
    const child = spawn(process.execPath, ['--import', 'tsx', join(WORKSPACE, 'apps/api/src/main.ts'), 'worker'], {
      cwd: WORKSPACE,
      env: {
        ...roots.env,
        PAAS_REGISTRY_ADDR: registry.host,
        ...registryLogin,
        REDIS_URL: queueRedis.url,
        PAAS_BUILD_WORKERS: '1',
        PAAS_BUILD_LOCK_MS: '2000',
        PAAS_BUILD_STALLED_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.push(child);
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('build worker ready')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`worker exited ${code}:\n${output}`)));
    });
    return { child, ready, output: () => output };
  }

  it('runs the job again on another worker and makes exactly one release', async () => {
    const app = await createApp(api.dataSource, 'slow');
    const dir = repoWith('slow', {
      Dockerfile:
        'FROM busybox\nRUN echo step started && sleep 4 && echo step done > /done\nCMD ["httpd", "-f", "-p", "5000"]\n',
    });
    const url = `${api.url.replace('http://', `http://git:${token}@`)}/git/slow.git`;
    const first = startWorker();
    await first.ready;

    const push = spawn('git', ['push', url, 'main'], { cwd: dir, env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    processes.push(push);
    let stderr = '';
    const started = new Promise<void>((resolve) =>
      push.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^remote: {8}step started\s*$/m.test(stderr)) resolve();
      }),
    );
    const pushed = new Promise<number | null>((resolve) => push.once('close', (code) => resolve(code)));
    await started;
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const second = startWorker();
    await second.ready;

    const code = await pushed;
    console.log(`the push ended ${Date.now() - killedAt} ms after its worker was killed`);
    const out = remote(stderr);
    assert.equal(code, 0, `${stderr}\nsecond worker:\n${second.output()}`);
    assert.ok(
      out.includes('-----> Build restarted (attempt 2): the previous attempt stopped before it finished'),
      out.join('\n'),
    );
    assert.ok(out.includes('-----> Released v1'), out.join('\n'));
    assert.equal(
      out.filter((l) => l === '       step started').length,
      2,
      `the RUN step ran again:\n${out.join('\n')}`,
    );

    const releases = await api.dataSource.manager.find(Release, { where: { appId: app.id } });
    assert.deepEqual(
      releases.map((r) => [r.version, r.status]),
      [[1, 'deploying']],
    );
    const build = await api.dataSource.manager.findOneByOrFail(Build, { appId: app.id });
    assert.equal(build.attempts, 2);
    assert.equal(build.status, 'succeeded');

    // a job run once more after its release was made (a crash just before the job completed)
    // gets the same release back: the idempotency key is <commit>:<build id>
    await api.dataSource.manager.update(Build, { id: build.id }, { status: 'building' });
    const env = await buildEnvironment(config(0, queueRedis.url), { dataSource: api.dataSource, redis: api.redis });
    const again = await runBuild(
      {
        buildId: build.id,
        appId: app.id,
        app: 'slow',
        commit: build.commit,
        ref: build.ref,
        repo: join(roots.root, 'platform', 'git', 'slow.git'),
      },
      env,
      { final: true },
    );
    assert.deepEqual(again, { releaseId: releases[0]?.id, version: 1 });
    assert.equal(await api.dataSource.manager.count(Release, { where: { appId: app.id } }), 1);

    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
  });
});
