/**
 * The chaos test of "Always on" (issue 19): the whole platform on a 3-node namespace cluster
 * (infra/cluster), and kill -9 of its parts at random while users push, scale and send requests.
 *
 *   PostgreSQL (testDatabase), a persistent redis-server on a unix socket, the registry on the
 *   cluster bridge's gateway; 2 api replicas (the api bundle) on that gateway at ports of their
 *   own, 1 build worker process (`main.js worker`; each api runs one build worker too);
 *   3 agents, talking to the apis through a load balancer (as docs/operations.md asks: one
 *   agent pinned to an api that died twice in a row looked silent for the node timeout);
 *   2 routers (the proxy bundle, 2 workers each) on loopback, the load generator alternating
 *   between them as a user's load balancer would.
 *   3 apps (Dockerfile apps FROM busybox, httpd serving `APP vN`), each pushed with real git
 *   over HTTP every few seconds, a new commit each time, through api A and B by turns; scaled
 *   1-3 now and then through either api; requests to all three through the routers throughout.
 *
 * For CHAOS_SECONDS (40 by default: one round; 300 is the long form), every 8-12 s, one of:
 * the leader api, the other api, an agent, a router worker, the build worker, redis-server is
 * killed with SIGKILL, every kind once per round of six in a seeded order (CHAOS_SEED replays a
 * run; the seed is printed); a round begun is finished, so every kind dies at least once. The spec is the supervisor: it starts what it killed again 1-3 s later with
 * the same environment, port or socket (a router worker is forked again by its router).
 *
 * Then, after a settle period: every push the client saw ended (ok or a clean failure, none
 * killed at its limit); per app the server's main is the commit of the live release, which is
 * a commit the client pushed, and no ok push is lost from it; no release is left building or
 * deploying; both routers serve every app's live version; requests failed only in the moments
 * after a router worker died (the request that worker was answering). After teardown nothing
 * of the run is left: processes, mounts, namespaces, veths, cgroups.
 *
 * Each app's pushes follow one another, as one developer's would, through api A and B by turns:
 * the next one goes right after a failed one, through the other api, while the dead push may
 * still hold the app (the push lock across apis and its settling, push-lease.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Build, Release } from '@paas/api-types';
import { ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { type LocalRedis, type TestDatabase, startLocalRedis, testDatabase } from '@paas/platform/testing';
import { type RunningRegistry, ensurePlatformRegistryUsers } from '@paas/registry';
import { Cluster, type Operator } from '@paas/cluster';
import { type ProcessIdentity, containersUnder, mountsUnder, processIdentity, stillRunning } from '../support/cli';
import {
  type GitResult,
  gitAsyncWithin,
  gitCommit,
  gitEnv,
  gitSync,
  httpGet,
  startPlatformRegistry,
  teardown,
  waitFor,
} from '../support/platform';
import { callApi, readAdminToken } from '../platform/support/api';
import { type Daemon, agentCleanup, startDaemon, stopDaemon } from '../platform/support/daemon';

const CHAOS_MS = Number(process.env['CHAOS_SECONDS'] ?? 40) * 1000;
const SEED = Number(process.env['CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const SETTLE_MS = 60_000;
/** A push not done after this long hangs (the deploy timeout is 60 s). */
const PUSH_LIMIT_MS = 100_000;
/** Requests in flight when a router worker was killed, or sent this soon after, may fail with it. */
const WORKER_WINDOW_MS = 3000;
/** A directory to keep every component's output in (CHAOS_LOGS=DIR), for a failure's story. */
const LOGS = process.env['CHAOS_LOGS'];

const tag = process.pid % 100_000;
const NAME = `c${tag}`;
const SUBNET = `10.237.${process.pid % 250}.0/24`;
const nodeSubnet = (i: number): string => `10.238.${(tag % 31) * 8 + i - 1}.0/24`;
const APPS = ['alpha', 'beta', 'gamma'] as const;
const KINDS = ['leader-api', 'other-api', 'agent', 'router-worker', 'build-worker', 'redis'] as const;
type Kind = (typeof KINDS)[number];

/** mulberry32: a small seeded generator, so a run's kills, delays and scales replay. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Push {
  readonly app: string;
  readonly version: number;
  readonly commit: string;
  readonly via: string;
  readonly result: GitResult;
}

interface Kill {
  readonly kind: Kind;
  readonly what: string;
  readonly at: number;
}

/** Children of `pid` (a router's workers). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The load balancer in front of the apis that the agents talk to (docs/operations.md: "put both
 * behind the load balancer that clients and agents use"): each connection goes to the next api
 * by turns, or to the other one when that refuses it.
 */
async function balancer(host: string, targets: () => string[]): Promise<{ url: string; close(): Promise<void> }> {
  let turn = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    const list = targets();
    const first = turn++;
    const attempt = (n: number): void => {
      if (n >= list.length) {
        client.destroy();
        return;
      }
      const [h = '', p = '0'] = (list[(first + n) % list.length] ?? '').split(':');
      const upstream = connect(Number(p), h);
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.once('error', () => attempt(n + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    // TCP passes through: the agents' TLS ends at the apis
    url: `https://${host}:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Live processes whose command line or environment mentions `text`, or whose cgroup names one of `ids`. */
function processesOf(text: string, ids: ReadonlySet<string>): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const read = (file: string): string => {
      try {
        return readFileSync(`/proc/${entry}/${file}`, 'utf8');
      } catch {
        return '';
      }
    };
    const cmdline = read('cmdline');
    if (!cmdline) continue;
    const cgroup = read('cgroup');
    if (cmdline.includes(text) || read('environ').includes(text) || [...ids].some((id) => cgroup.includes(id)))
      found.push(`${entry} ${cmdline.replace(/\0/g, ' ').trim()}`);
  }
  return found;
}

describe('chaos: kill -9 of any part while apps are pushed, scaled and served', { timeout: CHAOS_MS + 330_000 }, () => {
  const random = seeded(SEED);
  const between = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
  const base = mkdtempSync(join(tmpdir(), 'paas-chaos-'));
  chmodSync(base, 0o711); // a container's root in a user namespace reaches its bundle under it
  // the same for the control plane's build steps under cp/root: made here, or the first
  // 0700 store made below it would make cp 0700 too (outside the engine's root, not its to open)
  mkdirSync(join(base, 'cp'));
  chmodSync(join(base, 'cp'), 0o711);
  const root = join(base, 'cp', 'root');
  const run = join(base, 'cp', 'run');
  const home = join(base, 'home');
  /** The platform CA the first api makes: off loopback the apis serve https with a leaf of it. */
  const caFile = join(root, 'platform', 'tls', 'ca.crt');
  const apiCa = (): string => readFileSync(caFile, 'utf8');
  const git = { ...gitEnv(home), GIT_SSL_CAINFO: caFile };
  const startedAt = Date.now();
  const since = (): string => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  /** Every process the spec started (none may run at the end), and every container id seen. */
  const processes: ProcessIdentity[] = [];
  const pids = {
    /** A process just started (or found): known by its pid and start time, as pids wrap. */
    add: (pid: number): void => {
      const id = processIdentity(pid);
      if (id) processes.push(id);
    },
  };
  const containerIds = new Set<string>();
  let cluster: Cluster | undefined;
  let db: TestDatabase | undefined;
  let redis: LocalRedis | undefined;
  let registry: RunningRegistry | undefined;
  let apiEnv: NodeJS.ProcessEnv = {};
  let token = '';
  const apis: { name: string; addr: string; daemon: Daemon | undefined }[] = [];
  let worker: Daemon | undefined;
  const routers: Daemon[] = [];
  let sampler: NodeJS.Timeout | undefined;
  let closeBalancer: (() => Promise<void>) | undefined;
  /** Set first thing in `after`: the spec's loops (requests, pushes, scaling) stop, whatever failed. */
  let ended = false;
  /** Every daemon started, killed ones too: their output is kept in LOGS. */
  const started: { name: string; daemon: Daemon }[] = [];
  const keep = (name: string, daemon: Daemon): Daemon => {
    started.push({ name: `${name} (pid ${daemon.child.pid})`, daemon });
    pids.add(daemon.child.pid as number);
    return daemon;
  };

  const apiUrl = (i: number): string => `https://${apis[i]?.addr ?? ''}`;
  const startApiProcess = async (i: number): Promise<void> => {
    const api = apis[i];
    assert.ok(api);
    api.daemon = keep(
      api.name,
      await startDaemon(api.name, 'dist/apps/api/main.js', { ...apiEnv, PAAS_API_ADDR: api.addr }),
    );
    api.addr = new URL(api.daemon.url).host;
  };
  const startWorker = async (): Promise<void> => {
    worker = keep(
      'build worker',
      await startDaemon('build worker', 'dist/apps/api/main.js', apiEnv, 60_000, ['worker']),
    );
  };
  const startRedis = async (): Promise<void> => {
    redis = await startLocalRedis(join(base, 'redis'), { persist: true });
    pids.add(redis.process.pid as number);
  };
  const sampleContainers = (): void => {
    for (const dir of [root, ...(cluster?.nodes.map((n) => n.root) ?? [])])
      for (const id of containersUnder(dir)) containerIds.add(id);
  };
  /** SIGKILL and wait for the exit. */
  const killDaemon = async (daemon: Daemon | undefined): Promise<void> => {
    const child = daemon?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  const leaderIndex = async (): Promise<number | null> => {
    for (let i = 0; i < apis.length; i++) {
      const health = await callApi(apiUrl(i), token, 'GET', '/api/health', undefined, 200, apiCa()).catch(() => null);
      if ((health as { leader?: boolean } | null)?.leader) return i;
    }
    return null;
  };
  /** The api as a client calls it, through api `i` (a user retrying through the other one after a refusal). */
  const call = async (i: number, method: string, path: string, body?: unknown): Promise<unknown> => {
    try {
      return await callApi(apiUrl(i), token, method, path, body, undefined, apiCa());
    } catch (err) {
      if (!(err instanceof TypeError)) throw err; // fetch failed: that api is down
      return callApi(apiUrl(1 - i), token, method, path, body, undefined, apiCa());
    }
  };
  const pushUrl = (i: number, app: string): string => `https://git:${token}@${apis[i]?.addr ?? ''}/git/${app}.git`;

  before(async () => {
    console.log(`chaos: seed ${SEED} (CHAOS_SEED=${SEED} replays it), ${CHAOS_MS / 1000} s of chaos`);
    mkdirSync(home, { recursive: true });
    cluster = Cluster.create(
      {
        name: NAME,
        subnet: SUBNET,
        stateDir: join(base, 'cluster'),
        nodeSubnet,
        agentEnv: { PAAS_NODE_MEMORY: '2048', PAAS_NODE_CPUS: '4' },
      },
      3,
    );
    const gateway = cluster.gateway;
    db = await testDatabase('postgres');
    await startRedis();
    const logins = await ensurePlatformRegistryUsers(join(base, 'registry'), join(root, 'platform'));
    registry = await startPlatformRegistry(root, join(base, 'registry'), gateway);
    const registryHost = new URL(registry.url).host;
    const images = await ImageService.open(imageRoots(root));
    await bootstrapImage(images, 'busybox');
    apiEnv = {
      PAAS_ROOT: root,
      PAAS_RUN: run,
      DATABASE_URL: db.url,
      REDIS_URL: redis?.url,
      PAAS_REGISTRY_ADDR: registryHost,
      // the registry as the nodes reach it, told to each node that joins
      PAAS_NODE_REGISTRY_ADDR: registryHost,
      PAAS_REGISTRY_USER: logins.builder.username,
      PAAS_REGISTRY_PASSWORD: logins.builder.password,
      // the platform registry on the cluster bridge speaks plain HTTP (behind its tokens)
      PAAS_BRIDGE: `pcl${NAME}cp`,
      PAAS_SUBNET: nodeSubnet(8),
      PAAS_IP_FORWARD: '0',
      PAAS_BUILD_WORKERS: '1',
      // a killed worker's build is taken over within seconds, not BullMQ's 30 s
      PAAS_BUILD_LOCK_MS: '5000',
      PAAS_BUILD_STALLED_MS: '5000',
      PAAS_RECONCILE_MS: '500',
      PAAS_DRAIN_MS: '500',
      PAAS_STOP_TIMEOUT: '3',
      PAAS_DEPLOY_TIMEOUT: '60',
    };
    apis.push({ name: 'api A', addr: `${gateway}:0`, daemon: undefined });
    apis.push({ name: 'api B', addr: `${gateway}:0`, daemon: undefined });
    await startApiProcess(0); // first alone: it migrates the database and makes the admin token
    token = readAdminToken(root);
    await Promise.all([startApiProcess(1), startWorker()]);
    const lb = await balancer(gateway, () => apis.map((a) => a.addr));
    closeBalancer = lb.close;
    // each machine joins with the command the operator's CLI prints, for the api behind the
    // load balancer (the URL its agent then keeps)
    const operator: Operator = {
      env: {
        HOME: home,
        PAAS_ROOT: join(base, 'operator'),
        PAAS_API_URL: apiUrl(0),
        PAAS_API_TOKEN: token,
        PAAS_CA_FILE: caFile,
      },
      apiUrl: lb.url,
    };
    for (const node of cluster.nodes) {
      await cluster.join(node.index, operator);
      if (node.pid) pids.add(node.pid);
    }
    for (const n of [1, 2]) {
      const router = await startDaemon(`router ${n}`, 'dist/apps/proxy/main.js', {
        PAAS_ROOT: root,
        PAAS_RUN: run,
        REDIS_URL: redis?.url,
        PAAS_ROUTER_ADDR: '127.0.0.1:0',
        PAAS_ROUTER_ADMIN_ADDR: 'off',
        PAAS_ROUTER_WORKERS: '2',
        PAAS_ROUTER_ACCESS_LOG: 'off',
      });
      routers.push(keep(`router ${n}`, router));
    }
    sampler = setInterval(sampleContainers, 2000);
  });

  after(async () => {
    ended = true;
    clearInterval(sampler);
    sampleContainers();
    if (LOGS) {
      mkdirSync(LOGS, { recursive: true });
      for (const { name, daemon } of started) writeFileSync(join(LOGS, `${name}.log`), daemon.output());
      for (const node of cluster?.nodes ?? [])
        writeFileSync(join(LOGS, `agent n${node.index}.log`), cluster?.agentLog(node.index) ?? '');
    }
    const { problems, attempt } = teardown();
    for (const router of routers) await attempt('router', () => stopDaemon(router));
    for (const api of apis) await attempt(api.name, () => api.daemon && stopDaemon(api.daemon));
    await attempt('build worker', () => worker && stopDaemon(worker));
    await attempt('cluster', () => cluster?.destroy((line) => problems.push(line)));
    // the builds' containers and bridge on the control plane's node, through the agent's cleanup
    await attempt('build containers', () => {
      const cleanup = agentCleanup({ ...apiEnv, PAAS_API_URL: apiUrl(0) });
      if (cleanup.status !== 0) throw new Error(`${cleanup.stdout}${cleanup.stderr}`);
    });
    const builds = containersUnder(root);
    await attempt('balancer', () => closeBalancer?.());
    await attempt('registry', () => registry?.close());
    await attempt('redis', () => redis?.stop());
    await attempt('database', () => db?.dispose());
    const leftProcesses = processesOf(base, containerIds);
    for (const line of leftProcesses) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    const mounts = mountsUnder(base);
    rmSync(base, { recursive: true, force: true });
    console.log(`chaos: torn down at ${since()}`);
    const short = [...containerIds].map((id) => id.slice(0, 12));
    const cgroups = ['/sys/fs/cgroup/memory/paas', '/sys/fs/cgroup/pids/paas', '/sys/fs/cgroup/paas'].flatMap((dir) =>
      [...containerIds].map((id) => join(dir, id)).filter((path) => existsSync(path)),
    );
    assert.deepEqual(problems, [], 'teardown');
    assert.deepEqual(leftProcesses, [], 'no process of the run left (receive-pack, hooks, shims, agents, containers)');
    assert.deepEqual(
      processes.filter(stillRunning).map((id) => id.pid),
      [],
      'every process the spec started has exited',
    );
    assert.deepEqual(builds, [], 'no build container left');
    assert.deepEqual(mounts, [], 'no mount left');
    assert.deepEqual(cgroups, [], 'no cgroup of a container left');
    assert.deepEqual(
      short.filter((id) => existsSync(`/run/netns/paas-${id}`)),
      [],
      'no network namespace of a container left',
    );
    assert.deepEqual(
      short.filter((id) => existsSync(`/sys/class/net/pv${id}`)),
      [],
      'no veth of a container left',
    );
    if (cluster) {
      assert.equal(existsSync(`/sys/class/net/${cluster.bridge}`), false, 'the cluster bridge is gone');
      assert.equal(existsSync(`/sys/class/net/pcl${NAME}cp`), false, 'the build bridge is gone');
      for (const node of cluster.nodes) {
        assert.equal(existsSync(`/run/netns/${node.netns}`), false, `${node.netns} is gone`);
        assert.equal(existsSync(`/sys/class/net/${node.veth}`), false, `${node.veth} is gone`);
      }
    }
  });

  it('keeps every app serving and every push consistent', async () => {
    const served = new Map<string, number>(); // app -> version of the commit its main holds
    const versionOf = new Map<string, { app: string; version: number }>(); // commit -> what it serves
    const checkouts = new Map<string, string>();
    const dockerfile = [
      'FROM busybox',
      'COPY index.html /www/index.html',
      'RUN test -s /www/index.html',
      'ENV PORT=5000',
      'CMD httpd -f -p "$PORT" -h /www',
      '',
    ].join('\n');
    const commit = (app: string, version: number): string => {
      const dir = checkouts.get(app) ?? '';
      const id = gitCommit(git, dir, { Dockerfile: dockerfile, 'index.html': `${app} v${version}\n` }, `v${version}`);
      versionOf.set(id, { app, version });
      return id;
    };
    const push = (i: number, app: string): Promise<GitResult> =>
      gitAsyncWithin(PUSH_LIMIT_MS, git, checkouts.get(app) ?? '', 'push', pushUrl(i, app), 'main');

    // the three apps, first pushed through api A and B by turns
    await Promise.all(
      APPS.map(async (app, n) => {
        await call(n % 2, 'POST', '/api/apps', { name: app });
        const dir = join(base, 'apps', app);
        mkdirSync(dir, { recursive: true });
        gitSync(git, dir, 'init', '--quiet', '--initial-branch=main');
        checkouts.set(app, dir);
        commit(app, 1);
        const first = await push(n % 2, app);
        assert.equal(first.status, 0, `the first push of ${app}:\n${first.output}`);
      }),
    );

    // requests: a few clients, round-robin over the apps and the two routers
    const requests = { ok: 0, failed: [] as { at: number; end: number; app: string; router: number; what: string }[] };
    let running = true;
    let turn = 0;
    const clients = Array.from({ length: 3 }, async () => {
      while (running && !ended) {
        const n = turn++;
        const app = APPS[n % APPS.length] as string;
        const r = Math.floor(n / APPS.length) % 2;
        const at = Date.now();
        const res = await httpGet(routers[r]?.url ?? '', `${app}.localhost`, 5000).catch((err: Error) => ({
          status: 0,
          body: err.message,
        }));
        if (res.status === 200 && new RegExp(`^${app} v\\d+\\n$`).test(res.body)) requests.ok++;
        else
          requests.failed.push({
            at,
            end: Date.now(),
            app,
            router: r + 1,
            // the router's page says why (its text, with the error's code, not its markup)
            what: `${res.status} ${res.body
              .replace(/<[^>]*>/g, ' ')
              .replace(/\s+/g, ' ')
              .trim()
              .slice(0, 200)}`,
          });
      }
    });
    await waitFor('every app served through both routers', 60_000, async () => {
      for (const router of routers)
        for (const app of APPS)
          if (!(await httpGet(router.url, `${app}.localhost`)).body.startsWith(`${app} v1`)) return false;
      return true;
    });
    console.log(`chaos: set up in ${since()}`);

    // pushes: each app's one after another, through api A and B by turns
    const pushes: Push[] = [];
    let pushing = true;
    const pushers = APPS.map(async (app, n) => {
      let version = 1;
      let via = n % 2;
      while (pushing && !ended) {
        await sleep(between(2000, 5000));
        if (!pushing) break;
        version++;
        via = 1 - via;
        const id = commit(app, version);
        const result = await push(via, app);
        pushes.push({ app, version, commit: id, via: apis[via]?.name ?? '', result });
      }
    });
    // scaling: now and then, one app to 1-3 through either api
    const scales: string[] = [];
    let scaling = true;
    const scaler = (async () => {
      while (scaling && !ended) {
        await sleep(between(5000, 9000));
        if (!scaling) break;
        const app = APPS[between(0, APPS.length - 1)] as string;
        const quantity = between(1, 3);
        const via = between(0, 1);
        try {
          await call(via, 'PATCH', `/api/apps/${app}/formation/web`, { quantity });
          scales.push(`${app}=${quantity}`);
        } catch (err) {
          scales.push(`${app}=${quantity} failed: ${(err as Error).message}`);
        }
      }
    })();

    // the chaos: one kill every 8-12 s, each kind once per round of six, restarted 1-3 s later;
    // a round begun is finished past the deadline
    const kills: Kill[] = [];
    const deadline = Date.now() + CHAOS_MS;
    let bag: Kind[] = [];
    try {
      while (Date.now() < deadline || bag.length > 0) {
        const next = Date.now() + between(8000, 12_000);
        if (bag.length === 0) {
          bag = [...KINDS];
          for (let i = bag.length - 1; i > 0; i--) {
            const j = between(0, i);
            [bag[i], bag[j]] = [bag[j] as Kind, bag[i] as Kind];
          }
        }
        const kind = bag.pop() as Kind;
        const pause = between(1000, 3000);
        const at = Date.now();
        let what = '';
        if (kind === 'leader-api' || kind === 'other-api') {
          const leader = await leaderIndex();
          const i = kind === 'leader-api' ? (leader ?? 0) : 1 - (leader ?? 0);
          what = `${apis[i]?.name} (${leader === null ? 'no leader found' : i === leader ? 'leader' : 'follower'})`;
          await killDaemon(apis[i]?.daemon);
          await sleep(pause);
          await startApiProcess(i);
        } else if (kind === 'agent') {
          const index = between(1, 3);
          what = `agent of n${index}`;
          await cluster?.killAgent(index);
          await sleep(pause);
          await cluster?.startAgent(index);
          const pid = cluster?.nodes.find((n) => n.index === index)?.pid;
          if (pid) pids.add(pid);
        } else if (kind === 'router-worker') {
          const r = between(0, 1);
          const primary = routers[r]?.child.pid as number;
          const workers = childrenOf(primary);
          const victim = workers[between(0, workers.length - 1)];
          assert.ok(victim, `router ${r + 1} has workers`);
          what = `router ${r + 1} worker ${victim}`;
          process.kill(victim, 'SIGKILL');
          await waitFor(`router ${r + 1} forks another worker`, 30_000, async () => {
            const now = childrenOf(primary);
            return now.length === 2 && !now.includes(victim);
          });
          for (const pid of childrenOf(primary)) pids.add(pid);
        } else if (kind === 'build-worker') {
          what = 'build worker';
          await killDaemon(worker);
          await sleep(pause);
          await startWorker();
        } else {
          what = 'redis-server';
          const child = redis?.process;
          if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once('exit', r));
            child.kill('SIGKILL');
            await exited;
          }
          await sleep(pause);
          await startRedis();
        }
        kills.push({ kind, what, at });
        const back = kind === 'router-worker' ? 'its router forked another' : `started again after ${pause} ms`;
        console.log(`chaos: ${((at - startedAt) / 1000).toFixed(1)} s killed ${what}; ${back}`);
        if (Date.now() < deadline || bag.length > 0) await sleep(Math.max(0, next - Date.now()));
      }
    } finally {
      pushing = false;
      scaling = false;
    }

    // settle: pushes in flight end (each within its limit), then every app converges
    console.log(`chaos: over at ${since()}`);
    await scaler;
    // a push runs PUSH_LIMIT_MS at most (then it counts as hung)
    await Promise.race([Promise.all(pushers), sleep(PUSH_LIMIT_MS + 10_000, undefined, { ref: false })]);
    const settleFrom = Date.now();
    console.log(`chaos: pushes in flight done at ${since()}`);
    const releasesOf = async (app: string): Promise<Release[]> =>
      (await call(0, 'GET', `/api/apps/${app}/releases`)) as Release[];
    const headOf = (app: string): string =>
      gitSync(git, base, '--git-dir', join(root, 'platform', 'git', `${app}.git`), 'rev-parse', 'refs/heads/main');
    const liveCommit = async (app: string): Promise<string | null> => {
      const live = (await releasesOf(app)).find((r) => r.status === 'live');
      if (!live?.buildId) return null;
      const builds = (await call(1, 'GET', `/api/apps/${app}/builds`)) as Build[];
      return builds.find((b) => b.id === live.buildId)?.commit ?? null;
    };
    const unsettled = async (): Promise<string[]> => {
      const wrong: string[] = [];
      for (const app of APPS) {
        const pending = (await releasesOf(app)).filter((r) => r.status === 'building' || r.status === 'deploying');
        if (pending.length) wrong.push(`${app}: ${pending.map((r) => `v${r.version} ${r.status}`).join(', ')}`);
        const head = headOf(app);
        const live = await liveCommit(app);
        if (head !== live)
          wrong.push(`${app}: main is ${head.slice(0, 8)}, the live release's commit ${live?.slice(0, 8)}`);
        const version = versionOf.get(head);
        if (version?.app !== app) {
          wrong.push(`${app}: main is ${head}, no commit pushed to ${app}`);
          continue;
        }
        served.set(app, version.version);
        for (const [r, router] of routers.entries()) {
          const res = await httpGet(router.url, `${app}.localhost`).catch(() => ({ status: 0, body: '' }));
          if (res.body !== `${app} v${version.version}\n`)
            wrong.push(
              `${app} through router ${r + 1}: ${res.status} ${res.body.trim()} (main holds v${version.version})`,
            );
        }
      }
      return wrong;
    };
    let wrong: string[] = [];
    while (
      (wrong = await unsettled().catch((err: Error) => [err.message])).length &&
      Date.now() - settleFrom < SETTLE_MS
    )
      await sleep(500);
    console.log(`chaos: ${wrong.length ? 'not settled' : 'settled'} at ${since()}`);
    running = false;
    await Promise.all(clients);

    // the summary
    const byKind = Object.fromEntries(KINDS.map((k) => [k, kills.filter((k2) => k2.kind === k).length]));
    const attributed = new Map<string, number>();
    const outside: string[] = [];
    for (const f of requests.failed) {
      const before = kills.filter((k) => k.at <= f.at);
      const last = before[before.length - 1];
      // in flight when a router worker died, or sent to it just after
      const worker = kills.some((k) => k.kind === 'router-worker' && f.end >= k.at && f.at - k.at < WORKER_WINDOW_MS);
      const key = worker ? 'router-worker' : (last?.kind ?? 'before any kill');
      attributed.set(key, (attributed.get(key) ?? 0) + 1);
      if (!worker)
        outside.push(
          `${((f.at - startedAt) / 1000).toFixed(1)} s ${f.app} router ${f.router}: ${f.what} (last kill: ${last?.what ?? 'none'})`,
        );
    }
    const ok = pushes.filter((p) => p.result.status === 0);
    const hung = pushes.filter((p) => p.result.status === null);
    console.log(
      [
        `chaos summary (seed ${SEED}):`,
        `  kills: ${JSON.stringify(byKind)}`,
        `  pushes: ${ok.length} ok, ${pushes.length - ok.length - hung.length} failed cleanly, ${hung.length} hung`,
        ...pushes
          .filter((p) => p.result.status !== 0)
          .map(
            (p) =>
              `    ${p.app} v${p.version} via ${p.via}: status ${p.result.status} after ${p.result.ms} ms: ${p.result.stderr
                .trim()
                .split('\n')
                .slice(-2)
                .join(' | ')}`,
          ),
        `  scales: ${scales.join(', ')}`,
        `  requests: ${requests.ok} ok, ${requests.failed.length} failed ${JSON.stringify(Object.fromEntries(attributed))}`,
        `  live: ${APPS.map((a) => `${a} v${served.get(a)}`).join(', ')}`,
        ...(outside.length
          ? [
              "  failed requests outside a router worker's death (the first 20):",
              ...outside.slice(0, 20).map((o) => `    ${o}`),
            ]
          : []),
      ].join('\n'),
    );

    assert.deepEqual(wrong, [], `settled within ${SETTLE_MS / 1000} s`);
    assert.deepEqual(
      hung.map((p) => `${p.app} v${p.version} via ${p.via}:\n${p.result.output}`),
      [],
      `no push runs past ${PUSH_LIMIT_MS / 1000} s`,
    );
    for (const app of APPS) {
      const head = headOf(app);
      const dir = checkouts.get(app) ?? '';
      for (const p of ok.filter((o) => o.app === app)) {
        const kept = spawnSync('git', ['merge-base', '--is-ancestor', p.commit, head], { cwd: dir, env: git });
        assert.equal(kept.status, 0, `${app} v${p.version}, pushed ok via ${p.via}, is in main`);
      }
      // a push the server rejected did not move main (a push cut off by its api's death may have)
      for (const p of pushes.filter((q) => q.app === app && /\[remote rejected\]/.test(q.result.stderr)))
        assert.notEqual(head, p.commit, `${app} v${p.version} was rejected:\n${p.result.output}`);
    }
    assert.ok(ok.length > 0, 'some pushes went through');
    assert.deepEqual(outside, [], 'no request failed but those a killed router worker was answering');
  });
});
