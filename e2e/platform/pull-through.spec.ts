/**
 * The platform pulls base images through its registry, a pull-through cache of Docker Hub:
 * a `paas registry serve` on loopback plays Docker Hub (`library/node:20-slim`, made from
 * `paas image bootstrap node` in a root of its own and pushed there), the platform registry
 * (token auth, as under `paas up`) proxies it, and an in-process api builds a pushed
 * `FROM node:20-slim` Dockerfile app. Every request Docker Hub gets is counted: the image is
 * fetched from it once, a second node asks only whether the tag moved, and with Docker Hub down
 * a build of an image it never cached fails naming the image and the addresses tried, while the
 * last release stays. Nothing here leaves loopback.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, imageRoots } from '@paas/images';
import { App, Release, currentRelease, issueToken } from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { type RunningRegistry, ensurePlatformRegistryUsers, startRegistry } from '@paas/registry';
import type { DataSource } from 'typeorm';
import { type ApiConfig, loadApiConfig, platformPuller } from '@paas/api/testing';
import { PaasProcess, cliFor, mountsUnder, tempRoots } from '../support/cli';
import { type GitResult, gitAsync, gitCommit, gitEnv, gitSync, remoteLines as remote } from '../support/platform';
import { type PlatformApi, startPlatformApi } from './support/api';

const hubRoots = tempRoots();
const roots = tempRoots();
const base = join(roots.root, '..');
const GIT_ENV = gitEnv(join(base, 'home'));
const gitOk = (dir: string, ...args: string[]): string => gitSync(GIT_ENV, dir, ...args);
const git = (dir: string, ...args: string[]): Promise<GitResult> => gitAsync(GIT_ENV, dir, ...args);

const commit = (dir: string, files: Record<string, string>, message: string): string =>
  gitCommit(GIT_ENV, dir, files, message);

const dockerfileApp = (from: string, text: string): Record<string, string> => ({
  Dockerfile: `FROM ${from}\nCOPY server.js /app/server.js\nCMD ["node", "/app/server.js"]\n`,
  'server.js': `require('http').createServer((req, res) => res.end('${text}\\n')).listen(process.env.PORT || 5000);\n`,
});

let hub: RunningRegistry;
let platform: RunningRegistry;
let redis: LocalRedis;
let api: PlatformApi;
let config: ApiConfig;
let token = '';
/** What "Docker Hub" was asked, `METHOD /v2/...` (the ping and token requests left out). */
const hubRequests: string[] = [];

before(async () => {
  mkdirSync(join(base, 'home'), { recursive: true });
  hub = await startRegistry({ root: join(hubRoots.root, '..', 'hub'), listen: { host: '127.0.0.1', port: 0 } });
  hub.server.prependListener('request', (req) => {
    if (req.url?.startsWith('/v2/') && req.url !== '/v2/') hubRequests.push(`${req.method} ${req.url}`);
  });
  const { ok } = cliFor(hubRoots.env);
  ok('image', 'bootstrap', 'node');
  ok('tag', 'node:latest', `${hub.host}/library/node:20-slim`);
  // the hub answers in this process: the push must not block it
  const pushed = new PaasProcess(['push', `${hub.host}/library/node:20-slim`], hubRoots.env);
  assert.equal((await pushed.exited).code, 0, pushed.output);

  const { builder } = await ensurePlatformRegistryUsers(join(base, 'registry'), join(base, 'platform'));
  platform = await startRegistry({
    root: join(base, 'registry'),
    listen: { host: '127.0.0.1', port: 0 },
    auth: 'token',
    proxy: { remote: hub.url },
  });
  redis = await startLocalRedis(join(base, 'redis'));
  config = loadApiConfig({
    ...roots.env,
    PAAS_REGISTRY_ADDR: platform.host,
    PAAS_REGISTRY_USER: builder.username,
    PAAS_REGISTRY_PASSWORD: builder.password,
    REDIS_URL: redis.url,
    PAAS_BUILD_WORKERS: '1',
  });
  api = await startPlatformApi(config);
  token = (await issueToken(api.dataSource.manager, { name: 'admin', admin: true })).token;
});

after(async () => {
  await api?.close();
  await redis?.stop();
  await platform?.close();
  await hub?.close();
  const mounts = mountsUnder(roots.root);
  roots.cleanup();
  hubRoots.cleanup();
  assert.deepEqual(mounts, [], 'the builds left mounts behind');
});

async function createApp(dataSource: DataSource, name: string): Promise<App> {
  const app = dataSource.manager.create(App, { id: crypto.randomUUID(), name });
  await dataSource.manager.insert(App, app);
  return app;
}

async function repoFor(name: string, files: Record<string, string>): Promise<string> {
  await createApp(api.dataSource, name);
  const dir = join(base, 'src', name);
  mkdirSync(dir, { recursive: true });
  gitOk(dir, 'init', '--quiet', '--initial-branch=main');
  commit(dir, files, 'first');
  gitOk(dir, 'remote', 'add', 'paas', `${api.url.replace('http://', `http://git:${token}@`)}/git/${name}.git`);
  return dir;
}

describe('builds pull base images through the platform registry, a pull-through cache', () => {
  let dir = '';

  it('builds a pushed FROM node:20-slim app, fetching the image from Docker Hub once', async () => {
    hubRequests.length = 0;
    dir = await repoFor('slim', dockerfileApp('node:20-slim', 'slim v1'));
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr);
    assert.equal(push.status, 0, push.stderr);
    for (const line of ['       Step 1/3 : FROM node:20-slim', '       20-slim: Pulling from library/node']) {
      assert.ok(out.includes(line), `missing ${JSON.stringify(line)} in:\n${out.join('\n')}`);
    }
    assert.ok(out.includes('-----> Released v1'), out.join('\n'));
    // Docker Hub gave the manifest and each blob once
    const gets = hubRequests.filter((r) => r.startsWith('GET '));
    assert.equal(gets.filter((r) => r.includes('/manifests/')).length, 1, hubRequests.join('\n'));
    const blobs = gets.filter((r) => r.includes('/blobs/'));
    assert.ok(blobs.length >= 2, hubRequests.join('\n'));
    assert.equal(new Set(blobs).size, blobs.length, `a blob fetched twice:\n${hubRequests.join('\n')}`);
  });

  it('does not fetch from Docker Hub again: a second push, and a second node', async () => {
    hubRequests.length = 0;
    commit(dir, dockerfileApp('node:20-slim', 'slim v2'), 'second');
    const push = await git(dir, 'push', 'paas', 'main');
    assert.equal(push.status, 0, push.stderr);
    assert.ok(remote(push.stderr).includes('-----> Released v2'), push.stderr);
    assert.deepEqual(hubRequests, []);

    // another node: an image store of its own, the build worker's puller and login
    const other = join(base, 'second-node');
    const images = await ImageService.open(imageRoots(other));
    try {
      const lines: string[] = [];
      const login = config.registryLogin ?? undefined;
      const image = await platformPuller(images, platform.host, login, 'paas-e2e').pull(
        'docker.io/library/node:20-slim',
        (l) => lines.push(l),
      );
      assert.ok(image.manifest.layers.length > 0);
      assert.ok(lines.includes('Status: Downloaded newer image for node:20-slim'), lines.join('\n'));
      // only "has the tag moved?" reached Docker Hub
      assert.deepEqual(hubRequests, ['HEAD /v2/library/node/manifests/20-slim']);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('still refuses another app’s release as a base image', async () => {
    const thief = await repoFor('thief', dockerfileApp(`${platform.host}/slim:v1`, 'stolen'));
    const push = await git(thief, 'push', 'paas', 'main');
    assert.notEqual(push.status, 0, push.stderr);
    assert.match(push.stderr, new RegExp(`pull access denied for ${platform.host}/slim:v1`));
  });

  it('with Docker Hub down, fails naming the image and the addresses tried, and v2 keeps serving', async () => {
    const slim = await api.dataSource.manager.findOneByOrFail(App, { name: 'slim' });
    const hubUrl = hub.url;
    await hub.close();
    commit(dir, dockerfileApp('node:22-slim', 'slim v3'), 'third');
    const push = await git(dir, 'push', 'paas', 'main');
    const out = remote(push.stderr).join('\n');
    assert.notEqual(push.status, 0, push.stderr);
    assert.match(out, /node:22-slim/);
    assert.ok(out.includes(`tried ${platform.url}`), out);
    assert.ok(out.includes(`upstream registry ${hubUrl}`), out);
    assert.equal((await currentRelease(api.dataSource.manager, slim.id))?.version, 2);
    const releases = await api.dataSource.manager.count(Release, { where: { appId: slim.id } });
    assert.equal(releases, 2);
  });
});
