/**
 * The whole platform on one host for a spec, as `npm run up` runs it: a registry, Redis and the
 * api (REST, git receiver, an in-process build worker, the scheduler) in the test process, one
 * agent sharing the api's root and the router as daemons; apps deployed with real `git push`es
 * from checkouts under the roots. `stop()` stops everything, runs the agent's cleanup and says
 * what was left behind, for the spec to assert on.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { type RunningRegistry, startRegistry } from '@paas/registry';
import { DATA_SOURCE, type RunningApi, loadApiConfig, startApi } from '@paas/api/testing';
import { cgroupsLeftSince, cliFor, containersUnder, mountsUnder, tempRoots } from '../../support/cli';
import { type GitResult, gitAsync, gitCommit, gitEnv, gitSync } from '../../support/platform';
import { callApi, readAdminToken } from './api';
import { type Daemon, agentCleanup, startDaemon, stopDaemon } from './daemon';

export interface HostOptions {
  /** Extra settings of the api, the agent and the router. */
  readonly api?: NodeJS.ProcessEnv;
  readonly agent?: NodeJS.ProcessEnv;
  readonly router?: NodeJS.ProcessEnv;
}

export interface Leftovers {
  readonly mounts: string[];
  readonly containers: string[];
  readonly cgroups: string[];
  readonly problems: string[];
}

export interface PlatformHost {
  readonly api: RunningApi;
  readonly ds: DataSource;
  readonly token: string;
  readonly routerUrl: string;
  readonly daemons: ReadonlyMap<string, Daemon>;
  /** The environment bin/paas runs with against this platform (its roots, the api's URL). */
  readonly cliEnv: NodeJS.ProcessEnv;
  /** The api as a client calls it (callApi with the admin token). */
  call(method: string, path: string, body?: unknown, status?: number): Promise<unknown>;
  /** A checkout of a new app `name` with a `paas` remote; `commit` then `push` it. */
  checkout(name: string): Promise<string>;
  commit(dir: string, files: Readonly<Record<string, string | null>>, message: string): string;
  push(dir: string, branch?: string): Promise<GitResult>;
  /** Any git command in a checkout (`checkout -b`, `push paas --delete`), not blocking the api. */
  git(dir: string, ...args: string[]): Promise<GitResult>;
  /** Stops everything and removes the roots; what was left behind (all empty when clean). */
  stop(): Promise<Leftovers>;
}

export async function startPlatformHost(options: HostOptions = {}): Promise<PlatformHost> {
  const startedAt = Date.now();
  const roots = tempRoots();
  const base = join(roots.root, '..');
  const { ok } = cliFor(roots.env);
  const git = gitEnv(join(base, 'home'));
  mkdirSync(join(base, 'home'), { recursive: true });
  const daemons = new Map<string, Daemon>();
  let registry: RunningRegistry | undefined;
  let redis: LocalRedis | undefined;
  let api: RunningApi | undefined;

  const stop = async (): Promise<Leftovers> => {
    const problems: string[] = [];
    for (const started of [...daemons.values()].reverse()) await stopDaemon(started);
    // the node's containers and its bridge, through the agent's own cleanup
    const cleanup = agentCleanup(roots.env);
    if (cleanup.status !== 0) problems.push(`agent cleanup: ${cleanup.stderr}`);
    await api?.app.close();
    await redis?.stop();
    await registry?.close();
    const left = {
      mounts: mountsUnder(roots.root),
      containers: containersUnder(roots.root),
      cgroups: cgroupsLeftSince(startedAt),
      problems,
    };
    roots.cleanup();
    return left;
  };

  try {
    ok('image', 'bootstrap', 'busybox');
    registry = await startRegistry({ root: join(base, 'registry'), listen: { host: '127.0.0.1', port: 0 } });
    redis = await startLocalRedis(join(base, 'redis'));
    const env = { ...roots.env, REDIS_URL: redis.url, PAAS_REGISTRY_ADDR: registry.host };
    const running = await startApi(loadApiConfig({ ...env, ...options.api }));
    api = running;
    const token = readAdminToken(roots.root);
    const daemon = async (name: string, entry: string, extra: NodeJS.ProcessEnv): Promise<string> => {
      const started = await startDaemon(name, entry, extra);
      daemons.set(name, started);
      return started.url;
    };
    await daemon('agent', 'apps/agent/src/main.ts', {
      ...env,
      PAAS_API_URL: running.url,
      PAAS_NODE_NAME: 'host',
      ...options.agent,
    });
    const routerUrl = await daemon('router', 'apps/proxy/src/main.ts', {
      ...env,
      PAAS_ROUTER_WORKERS: '0',
      PAAS_ROUTER_ACCESS_LOG: 'off',
      ...options.router,
    });
    const call = (method: string, path: string, body?: unknown, status?: number): Promise<unknown> =>
      callApi(running.url, token, method, path, body, status);
    return {
      api: running,
      ds: running.app.get<DataSource>(DATA_SOURCE),
      token,
      routerUrl,
      daemons,
      cliEnv: { ...roots.env, PAAS_API_URL: running.url },
      call,
      async checkout(name) {
        await call('POST', '/api/apps', { name });
        const dir = join(base, 'apps', name);
        mkdirSync(dir, { recursive: true });
        gitSync(git, dir, 'init', '--quiet', '--initial-branch=main');
        gitSync(
          git,
          dir,
          'remote',
          'add',
          'paas',
          `${running.url.replace('http://', `http://git:${token}@`)}/git/${name}.git`,
        );
        return dir;
      },
      commit: (dir, files, message) => gitCommit(git, dir, files, message),
      push: (dir, branch = 'main') => gitAsync(git, dir, 'push', 'paas', branch),
      git: (dir, ...args) => gitAsync(git, dir, ...args),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
