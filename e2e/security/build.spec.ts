/**
 * The build boundary, tried as an attacker who pushes a repository: symlinks in the context
 * (as the last component, in the middle, relative and absolute, through wildcards, as the
 * Dockerfile or .dockerignore, in a stage's rootfs for COPY --from, in a layer that a later
 * step writes through), the files the platform reads itself (Procfile, package.json,
 * app.json), submodules with file:// URLs, and fork bombs and memory hogs in RUN.
 *
 * Part 1 runs `paas build` (the engine's builder, what every push uses); part 2 pushes with
 * real git to the real api and build worker in this process, whose admin token on disk is
 * the secret to steal. A success is judged by what the attacker sees: the build output (as
 * the pusher and `builds:output` get it) and the image never contain the secret, and
 * nothing is written outside the build's own root.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { App, Build, ConfigVar } from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { type RunningRegistry, startRegistry } from '@paas/registry';
import { loadApiConfig } from '@paas/api/testing';
import { type PlatformApi, startPlatformApi } from '../platform/support/api';
import { cgroupsLeftSince, cliFor, mountsUnder, tempRoots } from '../support/cli';
import { gitAsync, gitEnv, gitSync } from '../support/platform';

const startedAt = Date.now();
const roots = tempRoots();
const base = join(roots.root, '..');
const { run, ok } = cliFor(roots.env);

/** A host file no build may read: random content, outside every context. */
const secretDir = join(base, 'host-secrets');
const secretPath = join(secretDir, 'secret.txt');
const secret = `SECRET-${randomBytes(12).toString('hex')}`;

let contexts = 0;
/** A build context with these files; a value `{ link }` makes a symlink. */
function context(files: Record<string, string | { link: string }>): string {
  const dir = join(base, 'contexts', String(contexts++));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    if (typeof content === 'string') writeFileSync(join(dir, name), content);
    else symlinkSync(content.link, join(dir, name));
  }
  return dir;
}

/** `paas build`; the whole output as the attacker sees it, and whether it built. */
function build(dir: string, tag: string): { built: boolean; output: string } {
  const r = run('build', '-t', tag, dir);
  return { built: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Everything a built image's files say (to see whether the secret got in). */
function imageText(tag: string): string {
  return ok(
    'run',
    '--rm',
    tag,
    'sh',
    '-c',
    'find / -xdev -type f -size -64k ! -path "/proc/*" -exec cat {} + 2>/dev/null; true',
  );
}

before(() => {
  mkdirSync(secretDir, { recursive: true });
  writeFileSync(secretPath, `${secret}\n`);
  ok('image', 'bootstrap', 'busybox');
});

after(() => {
  const left = { mounts: mountsUnder(roots.root), cgroups: cgroupsLeftSince(startedAt) };
  roots.cleanup();
  assert.deepEqual(left, { mounts: [], cgroups: [] }, 'the builds left something behind');
});

describe('paas build: a context symlink never reads a host file', () => {
  const up = '../'.repeat(12);
  const cases: Record<string, Record<string, string | { link: string }>> = {
    'a link to / in the middle of a COPY source': {
      rootlink: { link: '/' },
      Dockerfile: `FROM busybox\nCOPY rootlink${secretPath} /x\nRUN cat /x\n`,
    },
    'a link to the directory in the middle of an ADD source': {
      hostdir: { link: secretDir },
      Dockerfile: 'FROM busybox\nADD hostdir/secret.txt /x\nRUN cat /x\n',
    },
    'a relative link climbing with ..': {
      'a/up': { link: up },
      Dockerfile: `FROM busybox\nCOPY a/up${secretPath} /x\nRUN cat /x\n`,
    },
    'a link as the whole source': {
      s: { link: secretPath },
      Dockerfile: 'FROM busybox\nCOPY s /x\nRUN cat /x\n',
    },
    'a wildcard below a link': {
      rootlink: { link: '/' },
      Dockerfile: `FROM busybox\nCOPY rootlink${secretDir}/* /x/\nRUN cat /x/*\n`,
    },
    'a link to / copied whole, then read through': {
      rootlink: { link: '/' },
      'keep.txt': 'kept\n',
      Dockerfile: `FROM busybox\nCOPY rootlink /ctx/\nRUN cat /ctx/keep.txt && cat /ctx${secretPath}\n`,
    },
    'a .dockerignore negation naming the path through the link': {
      rootlink: { link: '/' },
      '.dockerignore': `*\n!rootlink${secretPath}\n!Dockerfile\n`,
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f -exec cat {} +\n',
    },
    'the Dockerfile as a link to the secret': {
      Dockerfile: { link: secretPath },
    },
    'the .dockerignore as a link to the secret': {
      '.dockerignore': { link: secretPath },
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
    },
    'COPY --from a stage whose rootfs links to /': {
      Dockerfile: `FROM busybox AS evil\nRUN ln -s / /hostroot\nFROM busybox\nCOPY --from=evil /hostroot${secretPath} /x\nRUN cat /x\n`,
    },
  };
  for (const [name, files] of Object.entries(cases)) {
    it(name, () => {
      const tag = `escape${contexts}:latest`;
      const { built, output } = build(context(files), tag);
      assert.ok(!output.includes(secret), `the secret is in the build output:\n${output}`);
      if (built) assert.ok(!imageText(tag).includes(secret), 'the secret is in the image');
    });
  }

  it('resolves the links inside the context instead (rootlink/x is the context file x)', () => {
    const { built, output } = build(
      context({
        rootlink: { link: '/' },
        'app/a.txt': 'inside-the-context\n',
        Dockerfile: 'FROM busybox\nCOPY rootlink/app/a.txt /a.txt\nRUN cat /a.txt\n',
      }),
      'inside:latest',
    );
    assert.ok(built, output);
    assert.match(output, /inside-the-context/);
  });

  it('a link in a layer does not send a later COPY to the host', () => {
    const target = join(base, 'written-through');
    const { built, output } = build(
      context({
        'pwned.txt': 'pwned\n',
        Dockerfile: `FROM busybox\nRUN ln -s ${target} /out && ln -s / /root-link\nCOPY pwned.txt /out/pwned.txt\nCOPY pwned.txt /root-link${target}/again.txt\nRUN cat ${target}/pwned.txt ${target}/again.txt\n`,
      }),
      'through:latest',
    );
    assert.ok(built, output);
    assert.equal(existsSync(target), false, 'a COPY through an image symlink wrote on the host');
  });
});

/**
 * Build steps have a network now (NAT out through the bridge), behind the bridge's walls:
 * listeners of the test's own on 127.0.0.1, on every host address (the gateway, the host's
 * address on another interface) and the api's own loopback port are what a RUN step aims at.
 */
const wallListeners: ChildProcess[] = [];
after(() => {
  for (const child of wallListeners) child.kill();
});
async function hostListener(host: string, secret: string): Promise<number> {
  const script = `require('net').createServer(c=>c.end('${secret}\\n')).listen(0,'${host}',function(){console.log(this.address().port)})`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  wallListeners.push(child);
  return new Promise((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
}
/** A Dockerfile whose RUN shows its bridge address, then tries every `ip:port` (the output is judged). */
function wallProbe(targets: readonly string[]): string {
  const steps = ['ip -4 -o addr show eth0 2>&1', ...targets.map((t) => `nc -w 2 ${t.replace(':', ' ')} </dev/null`)];
  return `FROM busybox\nRUN ${[...steps, 'echo probed'].join('; ')}\n`;
}
const gateway = (roots.env.PAAS_SUBNET ?? '').replace(/\.0\/\d+$/, '.1');
const otherHostIp = Object.entries(networkInterfaces())
  .filter(([name]) => name !== roots.env.PAAS_BRIDGE)
  .flatMap(([, list]) => list ?? [])
  .find((a) => a.family === 'IPv4' && !a.internal)?.address;
const subnetPrefix = (roots.env.PAAS_SUBNET ?? '').replace(/\.0\/\d+$/, '.');

describe('paas build: a RUN step on the bridge reaches no host address', () => {
  it('is on the bridge, and neither 127.0.0.1, the gateway nor another host address answers it', async () => {
    const secret = `WALL-${randomBytes(6).toString('hex')}`;
    const any = await hostListener('0.0.0.0', secret);
    const loopback = await hostListener('127.0.0.1', secret);
    const targets = [`127.0.0.1:${loopback}`, `127.0.0.1:${any}`, `${gateway}:${any}`];
    if (otherHostIp) targets.push(`${otherHostIp}:${any}`);
    const r = run('build', '--no-cache', context({ Dockerfile: wallProbe(targets) }));
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, output);
    assert.ok(output.includes(`inet ${subnetPrefix}`), `the step is on the bridge:\n${output}`);
    assert.match(output, /probed/);
    assert.ok(!output.includes(secret), `a host listener answered a build step:\n${output}`);
  });
});

describe('git push: a pushed repository never reads the host', () => {
  let registry: RunningRegistry;
  let redis: LocalRedis;
  let api: PlatformApi;
  let adminToken: string;
  const gitHome = join(base, 'home');
  const GIT = gitEnv(gitHome);
  let apps = 0;

  before(async () => {
    mkdirSync(gitHome, { recursive: true });
    registry = await startRegistry({ root: join(base, 'registry'), listen: { host: '127.0.0.1', port: 0 } });
    redis = await startLocalRedis(join(base, 'redis'));
    api = await startPlatformApi(
      loadApiConfig({
        ...roots.env,
        PAAS_REGISTRY_ADDR: registry.host,
        REDIS_URL: redis.url,
        PAAS_BUILD_WORKERS: '1',
        // small enough that the hogs below hit them quickly
        PAAS_BUILD_PIDS: '64',
        PAAS_BUILD_MEMORY_MB: '96',
        // every build here takes about a second; the endless ones below are stopped
        PAAS_BUILD_TIMEOUT_MS: '8000',
      }),
    );
    adminToken = readFileSync(join(roots.root, 'platform', 'admin.token'), 'utf8').trim();
    assert.match(adminToken, /^paas_/);
  });
  after(async () => {
    await api?.close();
    await redis?.stop();
    await registry?.close();
  });

  type Pushed = { status: number | null; output: string; stored: string };

  /** Pushes a repository with these files (links as `{ link }`) to a new app. */
  async function push(
    files: Record<string, string | { link: string }>,
    prepare?: (dir: string) => void,
  ): Promise<Pushed> {
    const name = `evil${apps++}`;
    await api.dataSource.manager.insert(App, { id: crypto.randomUUID(), name });
    return pushTo(name, files, prepare);
  }

  /** Pushes a new repository with these files to an existing app (a force push). */
  async function pushTo(
    name: string,
    files: Record<string, string | { link: string }>,
    prepare?: (dir: string) => void,
  ): Promise<Pushed> {
    const dir = context(files);
    gitSync(GIT, dir, 'init', '--quiet', '--initial-branch=main');
    prepare?.(dir);
    gitSync(GIT, dir, 'add', '-A');
    gitSync(GIT, dir, 'commit', '--quiet', '-m', 'evil');
    const url = `${api.url.replace('http://', `http://git:${adminToken}@`)}/git/${name}.git`;
    const r = await gitAsync(GIT, dir, 'push', '--force', url, 'main');
    const app = await api.dataSource.manager.findOneByOrFail(App, { name });
    const builds = await api.dataSource.manager.findBy(Build, { appId: app.id });
    return { status: r.status, output: r.output, stored: builds.map((b) => b.output).join('\n') };
  }

  const adminTokenPath = (): string => join(roots.root, 'platform', 'admin.token');

  it('COPY through a link to / cannot print the admin token in the build log', async () => {
    const r = await push({
      rootlink: { link: '/' },
      Dockerfile: `FROM busybox\nCOPY rootlink${adminTokenPath()} /tok\nRUN cat /tok\n`,
    });
    assert.notEqual(r.status, 0, 'the push was accepted');
    assert.match(r.output, /file not found in build context/);
    for (const text of [r.output, r.stored]) assert.ok(!text.includes(adminToken), `the admin token leaked:\n${text}`);
  });

  it('the files the platform reads itself resolve inside the repository', async () => {
    for (const name of ['Procfile', 'package.json', 'app.json']) {
      const r = await push({
        'index.html': '<h1>static</h1>\n',
        [name]: { link: adminTokenPath() },
      });
      for (const text of [r.output, r.stored]) {
        assert.ok(!text.includes(adminToken), `${name}: the admin token leaked:\n${text}`);
      }
    }
  });

  it('a submodule with a file:// URL is not fetched', async () => {
    const r = await push(
      { Dockerfile: 'FROM busybox\nCOPY . /src/\nRUN find /src; cat /src/sub/* || true\n' },
      (dir) => {
        // a gitlink to a commit of a "repository" that is the host's platform directory
        writeFileSync(
          join(dir, '.gitmodules'),
          `[submodule "sub"]\n\tpath = sub\n\turl = file://${roots.root}/platform\n`,
        );
        gitSync(GIT, dir, 'update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},sub`);
      },
    );
    assert.equal(r.status, 0, r.output);
    assert.ok(!r.output.includes(adminToken));
    assert.doesNotMatch(r.output, /admin\.token/);
  });

  it('a fork bomb in RUN hits the build pids limit and fails the build, nothing left behind', async () => {
    const r = await push({
      Dockerfile: 'FROM busybox\nRUN i=0; while [ $i -lt 500 ]; do sleep 600 & i=$((i+1)); done; wait\n',
    });
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /can't fork|Resource temporarily unavailable|returned a non-zero code/);
    assert.deepEqual(readdirSync(join(roots.run, 'runtime')), [], 'a build container was left');
  });

  it('a memory hog in RUN is killed at the build memory limit', async () => {
    const r = await push({
      // a string that doubles until something stops it
      Dockerfile: 'FROM busybox\nRUN awk \'BEGIN { s = "x"; while (1) s = s s }\'\n',
    });
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /returned a non-zero code: 137/);
  });

  it("another app's release image is not a base: FROM and COPY --from it fail as if it did not exist", async () => {
    const victimSecret = `VICTIM-${randomBytes(8).toString('hex')}`;
    const victim = await push({ Dockerfile: `FROM busybox\nRUN echo ${victimSecret} > /secret\n` });
    assert.equal(victim.status, 0, victim.output);
    const victimName = `evil${apps - 1}`;
    const victimRef = `${registry.host}/${victimName}:v1`;
    const victimId = ok('images', '-q', '--no-trunc', victimRef).trim();
    assert.match(victimId, /^sha256:/);
    for (const dockerfile of [
      `FROM ${victimRef}\nRUN cat /secret\n`,
      `FROM busybox\nCOPY --from=${victimRef} /secret /x\nRUN cat /x\n`,
      `FROM ${victimId}\nRUN cat /secret\n`,
      `FROM ${victimId.slice(7, 19)}\nRUN cat /secret\n`,
    ]) {
      const r = await push({ Dockerfile: dockerfile });
      assert.notEqual(r.status, 0, r.output);
      // an id prefix is also a Docker Hub name (library/770c6fd06e48), pulled and not found
      // there, as a prefix of no image here would be
      assert.match(
        r.output,
        /pull access denied for .*: image not found locally|manifest for [0-9a-f]{12}:latest not found/,
      );
      assert.ok(!r.output.includes(victimSecret), `${dockerfile}: the other app's secret leaked`);
    }
    // an app's own releases remain a base for it
    const own = await pushTo(victimName, { Dockerfile: `FROM ${victimRef}\nRUN cat /secret\n` });
    assert.equal(own.status, 0, own.output);
    assert.ok(own.output.includes(victimSecret));
  });

  it('a RUN step that never ends is stopped at the build timeout, and the worker takes the next build', async () => {
    const r = await push({ Dockerfile: 'FROM busybox\nRUN sleep 3600\n' });
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /the build took longer than 8 s and was stopped/);
    const next = await push({ Dockerfile: 'FROM busybox\nRUN echo next-build-ran\n' });
    assert.equal(next.status, 0, next.output);
    assert.match(next.output, /next-build-ran/);
  });

  it('a log flood keeps the stored output bounded and the api alive', async () => {
    const r = await push({ Dockerfile: 'FROM busybox\nRUN yes flood-line-flood-line\n' });
    assert.notEqual(r.status, 0);
    assert.match(r.output, /the build took longer than 8 s and was stopped/);
    assert.ok(r.stored.length <= 1024 * 1024 + 200, `stored output of ${r.stored.length} bytes`);
    assert.match(r.stored, /lines dropped: the build wrote faster than its log is stored/);
    assert.match(r.stored, /the build took longer than 8 s and was stopped/);
    assert.ok((await fetch(`${api.url}/api/health`)).ok);
  });

  it("a push's RUN step is on the bridge and reaches no host listener, not the api; PAAS_BUILD_NETWORK=none builds offline", async () => {
    const secret = `WALL-${randomBytes(6).toString('hex')}`;
    const any = await hostListener('0.0.0.0', secret);
    const apiPort = new URL(api.url).port;
    const targets = [`127.0.0.1:${any}`, `${gateway}:${any}`, `127.0.0.1:${apiPort}`, `${gateway}:${apiPort}`];
    if (otherHostIp) targets.push(`${otherHostIp}:${any}`);
    const r = await push({ Dockerfile: wallProbe(targets) });
    assert.equal(r.status, 0, r.output);
    assert.ok(r.output.includes(`inet ${subnetPrefix}`), `the step is on the bridge:\n${r.output}`);
    assert.ok(!r.output.includes(secret) && !/HTTP\/1\.1/.test(r.output), `a host listener answered:\n${r.output}`);

    const name = `offline${apps++}`;
    const id = crypto.randomUUID();
    await api.dataSource.manager.insert(App, { id, name });
    await api.dataSource.manager.insert(ConfigVar, { appId: id, key: 'PAAS_BUILD_NETWORK', value: 'none' });
    const offline = await pushTo(name, { Dockerfile: wallProbe([]) });
    assert.equal(offline.status, 0, offline.output);
    assert.ok(!offline.output.includes(`inet ${subnetPrefix}`), `an offline build on the bridge:\n${offline.output}`);
  });
});
