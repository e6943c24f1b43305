/**
 * The platform on a 3-node namespace cluster (infra/cluster), real everything: the api in this
 * process (SQLite, its scheduler) serving https on the cluster bridge's gateway, a private
 * redis-server on a unix socket, the registry on that gateway over https (a leaf of the
 * platform CA, as `paas up` serves it off loopback), three machines in their network
 * namespaces that join as users' machines do (`paas nodes:join-token` on the host, the printed
 * `paas node join` in the namespace: each pins the CA, gets its own credential and the
 * registry's pull-only login, and runs its agent, which runs instances with paas-shim and
 * paas-runtime on a bridge of its own), and the router (apps/proxy) on loopback.
 *
 * TLS everywhere off loopback for the control plane: agents -> api, agents -> registry, the
 * operator's CLI -> api. Still plain, on the node network only (as Kubernetes' pod network):
 * agent -> instance health checks and router -> instance traffic; and Redis, which only the
 * control plane's own processes use (the api, the router), on a unix socket here: the nodes
 * have none (their instances' output and nudges go through the api).
 *
 * The app is a busybox httpd image built here and pushed to the registry; its releases are
 * made as a build makes them (createRelease), then the scheduler deploys them.
 *
 *   n1, n2 join; deploy v1 -> live, answers through the router and at its instance address
 *   n3 joins and takes an instance (timed: join -> instance serving)
 *   scale web to 6 -> 2/2/2; to 1
 *   scale to 3 (1/1/1), kill node 3 (agent, shims, containers) -> back on n1/n2 within 15 s;
 *     `paas node up` brings n3 back
 *   restart node 1's agent -> its containers keep their pids (no restart)
 *   drain n2; a release that fails its check is rolled back: the live one keeps serving
 *   the router's added latency to instances on other nodes (direct vs through the router)
 *   `nodes:remove n3 --force`: its instances move to n1/n2, the app answers through the
 *     router throughout, and n3's agent is refused (401 revoked)
 *   a postgres add-on, placed by the api on a node (its agent bootstraps the image): an
 *     instance of the attached app on the other node runs queries on it across the nodes'
 *     network; an app not attached, given the URL and password, cannot connect from either
 *     node; destroyed, its volume goes from its node
 *
 * The numbers are printed as a table at the end (README's benchmark table). The machines run
 * bin/paas, which runs the agent, from the bundles in dist/ (the cli and agent projects built).
 *
 * Everything (agents, containers, namespaces, veths, bridges, mounts, directories) is removed
 * in `after`, whatever failed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Image, ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { parseNormalizedReference } from '@paas/oci';
import {
  Addon,
  App,
  Instance,
  Node,
  type Release,
  addonVolume,
  appLogKey,
  connectRedis,
  createRelease,
  tailLog,
} from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import {
  type Credentials,
  RegistryClient,
  type RunningRegistry,
  ensurePlatformRegistryUsers,
  pushImage,
  registryTransport,
} from '@paas/registry';
import { DATA_SOURCE, DeploysService, type RunningApi, loadApiConfig, startApi } from '@paas/api/testing';
import { Cluster, type Operator, REPO } from '@paas/cluster';
import { isAlive, mountsUnder, paasAsync } from '../support/cli';
import { httpGet, startPlatformRegistry, teardown, waitFor } from '../support/platform';
import { callApi, readAdminToken } from '../platform/support/api';
import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';

const tag = process.pid % 100_000;
const third = process.pid % 250;
const NAME = `e${tag}`;
const SUBNET = `10.231.${third}.0/24`;
const base = mkdtempSync(join(tmpdir(), 'paas-cluster-'));
chmodSync(base, 0o711); // a container's root in a user namespace reaches its bundle under it
// the control plane's build steps under cp/root too (a 0700 store made first would close cp)
mkdirSync(join(base, 'cp'));
chmodSync(join(base, 'cp'), 0o711);
const t0 = Date.now();
const timings: string[] = [];
const mark = (what: string): void => void timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const get = httpGet;

/**
 * The add-on phase's CGI script: a row naming the instance's node (the query string), then
 * every row, with psql on the URL the web process wrote at its start (CGI gets a clean
 * environment); 503 with psql's error when it cannot.
 */
const VISIT = `#!/bin/sh
if out=$(psql "$(cat /tmp/db-url)?connect_timeout=3" -qtAX -v ON_ERROR_STOP=1 \\
  -c 'SET client_min_messages = warning' \\
  -c 'CREATE TABLE IF NOT EXISTS visits (node text NOT NULL)' \\
  -c "INSERT INTO visits VALUES ('$QUERY_STRING')" \\
  -c "SELECT string_agg(node, ',' ORDER BY node) FROM visits" 2>&1); then
  printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$out"
else
  printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s\\n' "$out"
fi
`;

describe('a 3-node cluster', { timeout: 300_000 }, () => {
  let cluster: Cluster | undefined;
  let redis: LocalRedis | undefined;
  let registry: RunningRegistry | undefined;
  let registryLogins: { builder: Credentials; node: Credentials };
  let api: RunningApi | undefined;
  let router: ChildProcess | undefined;
  let routerUrl: string | null = null;
  let ds: DataSource;
  let apiRedis: Redis;
  let app: App;
  let v1: Release;
  /** The control plane's image store (the apps' images are made here, then pushed). */
  let images: ImageService;

  const instances = async (appId = app.id): Promise<(Instance & { node: string })[]> => {
    const nodes = await ds.manager.find(Node);
    const rows = await ds.manager.find(Instance, {
      where: { appId, desired: 'run' },
      order: { number: 'ASC' },
    });
    return rows.map((i) => Object.assign(i, { node: nodes.find((n) => n.id === i.nodeId)?.name ?? '?' }));
  };
  const upInstances = async (): Promise<(Instance & { node: string })[]> =>
    (await instances()).filter((i) => i.state === 'up');
  /** When the api last heard from node `name` (ms since the epoch; registering counts). */
  const lastHeartbeat = async (name: string): Promise<number> =>
    Date.parse((await ds.manager.findOneByOrFail(Node, { name })).lastHeartbeatAt ?? '') || 0;
  const perNode = (list: { node: string }[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const i of list) out[i.node] = (out[i.node] ?? 0) + 1;
    return out;
  };
  const scale = async (quantity: number, appName = 'web'): Promise<void> => {
    await callApi(api?.url ?? '', token(), 'PATCH', `/api/apps/${appName}/formation/web`, { quantity }, 200, apiCa());
  };
  /** `n` instances of `release` up and nothing else running; every one answers at its address. */
  const converged = async (n: number, release: Release): Promise<(Instance & { node: string })[]> => {
    const all = await waitFor(`${n} instances of v${release.version} up`, 30_000, async () => {
      const list = await instances();
      const rows = await ds.manager.count(Instance, { where: { appId: app.id } });
      return (
        list.length === n && rows === n && list.every((i) => i.state === 'up' && i.releaseId === release.id) && list
      );
    });
    for (const i of all) {
      const res = await get(`http://${i.address}/`);
      assert.equal(res.status, 200);
      assert.match(res.body, new RegExp(`hello from v${release.version}`));
    }
    return all;
  };
  const throughRouter = async (version: number): Promise<void> => {
    assert.ok(routerUrl, 'the router runs');
    await waitFor(`the router serves v${version}`, 10_000, async () => {
      const res = await get(`${routerUrl}/`, 'web.localhost');
      return res.status === 200 && res.body.includes(`hello from v${version}`);
    });
  };
  let adminToken = '';
  let operator: Operator;
  /** The numbers of the run, printed as a table at the end. */
  const numbers: [string, string][] = [];
  const token = (): string => adminToken;
  /** The platform CA the api made on its first start: off loopback it serves https with a leaf of it. */
  const apiCa = (): string => readFileSync(join(base, 'cp', 'root', 'platform', 'tls', 'ca.crt'), 'utf8');

  /**
   * `files` (executable under cgi-bin/) as a layer on `from` (with `cmd` when given), pushed to
   * the registry as REGISTRY/`name` by the builder, as a build pushes an app's image; its reference.
   */
  const pushSite = async (
    from: Image,
    name: string,
    files: Record<string, string>,
    cmd?: string[],
  ): Promise<string> => {
    const registryHost = new URL(registry?.url ?? '').host;
    const site = mkdtempSync(join(base, 'site-'));
    for (const [path, body] of Object.entries(files)) {
      mkdirSync(dirname(join(site, path)), { recursive: true });
      writeFileSync(join(site, path), body, { mode: path.includes('cgi-bin/') ? 0o755 : 0o644 });
    }
    const layer = await images.layerFromDirectory(site);
    const ref = `${registryHost}/${name}`;
    const image = await images.commit(
      {
        ...from.config,
        rootfs: { type: 'layers', diff_ids: [...from.config.rootfs.diff_ids, layer.diffId] },
        ...(cmd ? { config: { ...from.config.config, Cmd: cmd } } : {}),
      },
      [...from.manifest.layers, layer.descriptor],
      ref,
    );
    await pushImage(
      images,
      new RegistryClient(registryHost, {
        ...registryTransport({ PAAS_ROOT: join(base, 'cp', 'root') }),
        credentials: registryLogins.builder,
      }),
      image,
      parseNormalizedReference(ref),
    );
    return ref;
  };

  before(async () => {
    cluster = Cluster.create(
      {
        name: NAME,
        subnet: SUBNET,
        stateDir: join(base, 'cluster'),
        nodeSubnet: (i) => `10.232.${(tag % 32) * 8 + i - 1}.0/24`,
        agentEnv: { PAAS_NODE_MEMORY: '2048', PAAS_NODE_CPUS: '4' },
      },
      3,
    );
    const gateway = cluster.gateway;
    redis = await startLocalRedis(join(base, 'redis'));
    // beyond loopback the registry takes tokens: the image is pushed as the builder, agents pull as nodes
    registryLogins = await ensurePlatformRegistryUsers(join(base, 'registry'), join(base, 'cp', 'root', 'platform'));
    const root = join(base, 'cp', 'root');
    registry = await startPlatformRegistry(root, join(base, 'registry'), gateway);
    const registryHost = new URL(registry.url).host;
    api = await startApi(
      loadApiConfig({
        PAAS_ROOT: root,
        PAAS_RUN: join(base, 'cp', 'run'),
        PAAS_API_ADDR: `${gateway}:0`,
        PAAS_REGISTRY_ADDR: registryHost,
        // the registry as the nodes reach it, told to each node that joins
        PAAS_NODE_REGISTRY_ADDR: registryHost,
        REDIS_URL: redis.url,
        PAAS_BRIDGE: `pcl${NAME}cp`,
        PAAS_SUBNET: `10.232.${(tag % 32) * 8 + 7}.0/24`,
        // short enough that a killed node's instances are back elsewhere within 15 s, long
        // enough for an agent restart (tsx in a namespace: 3.6 s once on a loaded machine, when
        // 3 s declared node 1 down and replaced its instances)
        PAAS_NODE_TIMEOUT: '8',
        PAAS_RECONCILE_MS: '250',
        PAAS_DRAIN_MS: '300',
        PAAS_STOP_TIMEOUT: '3',
        PAAS_DEPLOY_TIMEOUT: '60',
      }),
    );
    ds = api.app.get<DataSource>(DATA_SOURCE);
    apiRedis = connectRedis(redis.url);
    adminToken = readAdminToken(root);
    mark('api, registry, redis up');

    // the app's image: busybox from the host with a web root, pushed as REGISTRY/web:v1
    images = await ImageService.open(imageRoots(root));
    await pushSite(
      await bootstrapImage(images, 'busybox'),
      'web:v1',
      { 'www/index.html': 'hello from v1\n', 'www/health': 'ok\n' },
      ['httpd', '-f', '-p', '5000', '-h', '/www'],
    );
    mark('image pushed');

    // the operator's CLI on the control plane's machine, with the api's own settings: it talks
    // https to that api (a leaf of the platform CA under the root) with the local admin token
    operator = {
      env: { HOME: join(base, 'operator'), PAAS_ROOT: root, PAAS_API_ADDR: new URL(api.url).host },
    };
    // n1 and n2 join now, n3 once the app runs (its join is timed)
    await Promise.all([1, 2].map((i) => cluster?.join(i, operator)));
    mark('n1, n2 joined');

    // the router (its own specs are in e2e/proxy): every phase is checked through it too
    router = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'apps', 'proxy', 'src', 'main.ts')], {
      cwd: REPO,
      env: {
        PATH: process.env['PATH'],
        PAAS_ROOT: root,
        PAAS_RUN: join(base, 'cp', 'run'),
        REDIS_URL: redis.url,
        PAAS_ROUTER_ADDR: '127.0.0.1:0',
        PAAS_ROUTER_ADMIN_ADDR: 'off',
        PAAS_ROUTER_WORKERS: '0',
        PAAS_ROUTER_ACCESS_LOG: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let routerOutput = '';
    router.stdout?.on('data', (c: Buffer) => (routerOutput += c.toString()));
    router.stderr?.on('data', (c: Buffer) => (routerOutput += c.toString()));
    routerUrl = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 20_000);
      router?.once('message', (m: { ready?: boolean; url?: string }) => {
        clearTimeout(timer);
        resolve(m.ready && m.url ? m.url : null);
      });
      router?.once('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    assert.ok(routerUrl, `the router did not start:\n${routerOutput.slice(-2000)}`);
    mark('router up');
  });

  after(async () => {
    const { problems, attempt } = teardown();
    if (router && router.exitCode === null) {
      await attempt('router', async () => {
        router?.kill('SIGTERM');
        await new Promise((r) => {
          const timer = setTimeout(() => (router?.kill('SIGKILL'), r(null)), 5000);
          router?.once('exit', () => (clearTimeout(timer), r(null)));
        });
      });
    }
    await attempt('api', () => api?.app.close());
    await attempt('cluster', () => cluster?.destroy((line) => problems.push(line)));
    await attempt('redis client', () => apiRedis?.disconnect());
    await attempt('registry', () => registry?.close());
    await attempt('redis', () => redis?.stop());
    rmSync(base, { recursive: true, force: true });
    console.log(`timings:\n  ${timings.join('\n  ')}`);
    if (numbers.length > 0)
      console.log(
        `\n| what (3 namespace nodes, TLS on) | measured |\n| --- | --- |\n${numbers.map(([what, value]) => `| ${what} | ${value} |`).join('\n')}`,
      );
    if (cluster) {
      assert.equal(existsSync(`/sys/class/net/${cluster.bridge}`), false, 'the cluster bridge is gone');
      for (const node of cluster.nodes)
        assert.equal(existsSync(`/run/netns/${node.netns}`), false, `${node.netns} is gone`);
    }
    assert.deepEqual(mountsUnder(base), []);
    assert.deepEqual(problems, []);
  });

  it('deploys an app: v1 goes live and answers through the router and at its instance', async () => {
    await callApi(api?.url ?? '', token(), 'POST', '/api/apps', { name: 'web' }, 201, apiCa());
    app = await ds.manager.findOneByOrFail(App, { name: 'web' });
    const registryHost = new URL(registry?.url ?? '').host;
    v1 = await createRelease(ds, {
      appId: app.id,
      description: 'Deploy v1',
      imageRef: `${registryHost}/web:v1`,
      imageDigest: null,
      processTypes: { web: 'echo "$DYNO starting on $PORT" && exec httpd -f -p $PORT -h /www' },
      healthchecks: { web: [{ type: 'startup', path: '/health', content: 'ok', attempts: 100, wait: 0 }] },
      createdBy: 'e2e',
    });
    const lines: string[] = [];
    const outcome = await api?.app
      .get(DeploysService)
      .waitLive(v1.id, { onLine: (l) => lines.push(l), timeoutMs: 60_000 });
    assert.deepEqual(outcome, { status: 'live', version: 1 }, lines.join('\n'));
    mark('v1 live');
    const [web1] = await converged(1, v1);
    assert.match(
      web1?.address ?? '',
      new RegExp(`^${SUBNET.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.1[1-3]:\\d+$`),
    );
    await throughRouter(1);
    // the instance's output is in the app's log, under its name
    await waitFor('web.1 output in the app log', 10_000, async () =>
      (await tailLog(apiRedis, appLogKey(app.id), 200)).some(
        (e) => e.source === 'web.1' && e.line === 'web.1 starting on 5000',
      ),
    );
  });

  it('a machine joins with the printed command and takes an instance of the app', async () => {
    const n3 = `${NAME}-n3`;
    assert.ok(!(await ds.manager.findOneBy(Node, { name: n3 })), 'n3 is not a node before its join');
    const t = Date.now();
    // the operator's `paas nodes:join-token`, then the printed command on the machine
    await cluster?.join(3, operator);
    const registered = Date.now() - t;
    // once it is in `paas nodes` the operator scales: the spread puts one of the new instances on n3
    await scale(3);
    const [onN3] = await waitFor('an instance of web up on n3', 30_000, async () => {
      const list = (await upInstances()).filter((i) => i.node === n3);
      return list.length > 0 && list;
    });
    assert.equal((await get(`http://${onN3?.address}/`)).status, 200);
    const took = Date.now() - t;
    mark(`n3 joined: registered after ${registered} ms, its instance serving after ${took} ms`);
    numbers.push(['`paas node join` -> node registered (agent up)', `${(registered / 1000).toFixed(2)} s`]);
    numbers.push([
      '`paas node join` -> an instance on the node serving (incl. the scale and its image pull)',
      `${(took / 1000).toFixed(2)} s`,
    ]);
    // the agent ran under the join (its output in the join's), and pulled the image from the
    // registry, which speaks https only, with the login the join gave it
    assert.match(cluster?.agentLog(3) ?? '', /joined as .*-n3; starting its agent/);
    await throughRouter(1);
  });

  it('scales web to 6, spread 2/2/2 over the nodes, then to 1', async () => {
    const t = Date.now();
    await scale(6);
    const six = await converged(6, v1);
    mark(`scaled to 6 in ${Date.now() - t} ms`);
    assert.deepEqual(perNode(six), { [`${NAME}-n1`]: 2, [`${NAME}-n2`]: 2, [`${NAME}-n3`]: 2 });
    await throughRouter(1);
    const t1 = Date.now();
    await scale(1);
    await converged(1, v1);
    mark(`scaled to 1 in ${Date.now() - t1} ms`);
    await throughRouter(1);
  });

  it("brings a dead node's instances back on the other nodes within 15 s", async () => {
    await scale(3);
    const three = await converged(3, v1);
    assert.deepEqual(Object.values(perNode(three)), [1, 1, 1]);
    const killed = cluster?.killNode(3) ?? [];
    assert.ok(killed.length >= 3, `agent, shim and container killed: ${killed.join(' ')}`);
    const t = Date.now();
    const back = await waitFor('3 instances up on n1 and n2', 15_000, async () => {
      const list = await upInstances();
      return list.length === 3 && list.every((i) => i.node !== `${NAME}-n3`) && list;
    });
    const took = Date.now() - t;
    mark(`node 3 killed: rescheduled in ${took} ms`);
    assert.ok(took < 15_000);
    for (const i of back) assert.equal((await get(`http://${i.address}/`)).status, 200);
    const serving = Date.now() - t;
    numbers.push([
      'node killed (silent) -> its instances up on the others (PAAS_NODE_TIMEOUT=8)',
      `${(took / 1000).toFixed(2)} s`,
    ]);
    numbers.push(['node killed (silent) -> every replacement answering', `${(serving / 1000).toFixed(2)} s`]);
    await throughRouter(1);
    assert.equal((await ds.manager.findOneByOrFail(Node, { name: `${NAME}-n3` })).state, 'down');
    // node 3 comes back with `paas node up` (no token: what its join saved): its dead
    // containers are cleared, and it takes instances again
    await cluster?.startAgent(3);
    await waitFor(
      'n3 up',
      10_000,
      async () => (await ds.manager.findOneByOrFail(Node, { name: `${NAME}-n3` })).state === 'up',
    );
  });

  it('restarts an agent without restarting its containers: same containers, same pids', async () => {
    const before = (await upInstances()).filter((i) => i.node === `${NAME}-n1`);
    assert.ok(before.length > 0, 'node 1 runs instances');
    for (const i of before) assert.ok(i.pid && isAlive(i.pid), `${i.type}.${i.number} pid ${i.pid}`);
    const t = Date.now();
    await cluster?.killAgent(1);
    await cluster?.startAgent(1);
    mark(`agent 1 restarted in ${Date.now() - t} ms`);
    assert.match(cluster?.agentLog(1) ?? '', /adopted web web\.\d/);
    // the new agent's own report: a heartbeat after its registration, with node 1's instances up
    // (the rows still say up from before the restart until then, or down if the restart took
    // longer than PAAS_NODE_TIMEOUT)
    const registered = await lastHeartbeat(`${NAME}-n1`);
    const after = await waitFor('a heartbeat of the new agent with its instances up', 15_000, async () => {
      if ((await lastHeartbeat(`${NAME}-n1`)) <= registered) return false;
      const list = (await instances()).filter((i) => i.node === `${NAME}-n1`);
      return list.every((i) => i.state === 'up') && list;
    });
    const n1Lines = (await tailLog(apiRedis, appLogKey(app.id), 200))
      .map((e) => e.line)
      .filter((l) => l.includes(`${NAME}-n1`));
    assert.deepEqual(
      after.map((i) => [i.id, i.containerId, i.pid, i.restartCount]),
      before.map((i) => [i.id, i.containerId, i.pid, i.restartCount]),
      `node 1 in the app log:\n${n1Lines.join('\n')}`,
    );
    for (const i of after) {
      assert.ok(i.pid && isAlive(i.pid));
      assert.equal((await get(`http://${i.address}/`)).status, 200);
    }
    await throughRouter(1);
    mark('agent restarted, containers kept');
  });

  it('drains a node: its instances move to the others first, then it takes instances again', async () => {
    const drained = `${NAME}-n2`;
    const post = async (path: string): Promise<void> => {
      await callApi(api?.url ?? '', token(), 'POST', path, undefined, 200, apiCa());
    };
    if (!(await upInstances()).some((i) => i.node === drained)) {
      // make sure it holds something to move
      await scale(4);
      await converged(4, v1);
    }
    await post(`/api/nodes/${drained}/drain`);
    const moved = await waitFor(`nothing left on ${drained}`, 20_000, async () => {
      const list = await instances();
      const rows = await ds.manager.count(Instance, { where: { appId: app.id } });
      return list.length === rows && list.every((i) => i.node !== drained && i.state === 'up') && list;
    });
    for (const i of moved) assert.equal((await get(`http://${i.address}/`)).status, 200);
    await throughRouter(1);
    await post(`/api/nodes/${drained}/activate`);
    await scale(3);
    await converged(3, v1);
    mark('node drained and activated');
  });

  it('rolls back a release whose instances fail their check; the live one keeps serving', async () => {
    const registryHost = new URL(registry?.url ?? '').host;
    const live = await upInstances();
    const bad = await createRelease(ds, {
      appId: app.id,
      description: 'Deploy broken',
      imageRef: `${registryHost}/web:v1`,
      imageDigest: null,
      processTypes: { web: 'echo "no server here"; exit 3' },
      createdBy: 'e2e',
    });
    const outcome = await api?.app.get(DeploysService).waitLive(bad.id, { timeoutMs: 60_000 });
    assert.equal(outcome?.status, 'failed');
    assert.match((outcome as { reason: string }).reason, /^web\.\d failed: .*exited with code 3/);
    mark('broken release rolled back');
    const now = await converged(3, v1);
    assert.deepEqual(
      now.map((i) => i.id).sort(),
      live.map((i) => i.id).sort(),
      'the live instances were never touched',
    );
    await throughRouter(1);
    const log = (await tailLog(apiRedis, appLogKey(app.id), 500)).map((e) => e.line);
    assert.ok(
      log.some((l) => /^Deploy of v2 failed: web\.\d failed: .*; rolled back, v1 keeps serving$/.test(l)),
      log.slice(-20).join('\n'),
    );
  });

  it("measures the router's added latency to instances on the nodes", async () => {
    const live = await converged(3, v1);
    const N = 500;
    const direct: number[] = [];
    const routed: number[] = [];
    // interleaved, so that other load on the machine weighs on both alike
    for (let n = 0; n < N; n++) {
      const address = live[n % live.length]?.address ?? '';
      let t = performance.now();
      const a = await get(`http://${address}/`);
      direct.push(performance.now() - t);
      t = performance.now();
      const b = await get(`${routerUrl}/`, 'web.localhost');
      routed.push(performance.now() - t);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200, b.body);
    }
    const ms = (xs: number[], p: number): string => percentile(xs, p).toFixed(2);
    const line = `p50 ${ms(direct, 50)} / ${ms(routed, 50)} ms, p99 ${ms(direct, 99)} / ${ms(routed, 99)} ms`;
    mark(`${N} sequential GETs, direct / through the router: ${line}`);
    numbers.push([
      `${N} sequential GETs (new connection each) to the instances on the nodes, direct / through the router`,
      line,
    ]);
    numbers.push([
      'the router adds (p50, p99)',
      `${(percentile(routed, 50) - percentile(direct, 50)).toFixed(2)} ms, ${(percentile(routed, 99) - percentile(direct, 99)).toFixed(2)} ms`,
    ]);
  });

  it('removes a node with --force: its instances move to the others, the app keeps answering, its agent is refused', async () => {
    const n3 = `${NAME}-n3`;
    const before = await converged(3, v1);
    assert.ok(
      before.some((i) => i.node === n3),
      'n3 runs an instance',
    );
    // a user's requests through the router all along
    let sent = 0;
    const failed: string[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        sent++;
        const res = await get(`${routerUrl}/`, 'web.localhost').catch((err: Error) => ({
          status: 0,
          body: err.message,
        }));
        if (res.status !== 200) failed.push(`${res.status} ${res.body.slice(0, 100)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const removed = await paasAsync(['nodes:remove', n3, '--confirm', n3, '--force'], {
        PATH: process.env['PATH'],
        ...operator.env,
      });
      assert.equal(removed.status, 0, removed.stderr);
      assert.match(removed.stderr, new RegExp(`Removing node ${n3}\\.\\.\\. done, 1 credential revoked`));
      const t = Date.now();
      const moved = await waitFor('3 instances up on n1 and n2', 30_000, async () => {
        const list = await instances();
        const rows = await ds.manager.count(Instance, { where: { appId: app.id } });
        return list.length === 3 && rows === 3 && list.every((i) => i.node !== n3 && i.state === 'up') && list;
      });
      for (const i of moved) assert.equal((await get(`http://${i.address}/`)).status, 200);
      numbers.push([
        '`nodes:remove --force` -> its instances up on the others',
        `${((Date.now() - t) / 1000).toFixed(2)} s`,
      ]);
      await throughRouter(1);
      // the removed machine's agent is refused at its next heartbeat, and says so
      await waitFor("n3's agent refused as revoked", 30_000, async () =>
        /refuses this node's credential: .*: 401 node credential revoked: node \S+-n3 was removed/.test(
          cluster?.agentLog(3) ?? '',
        ),
      );
      assert.equal(await ds.manager.findOneBy(Node, { name: n3 }), null, 'its heartbeats did not bring it back');
    } finally {
      stop = true;
      await load;
    }
    mark(`n3 removed: ${sent} requests through the router meanwhile, ${failed.length} failed`);
    assert.deepEqual(failed, [], `of ${sent} requests through the router`);
  });
  it('runs a postgres add-on on one node: an attached app connects from the others, an app not attached cannot', async () => {
    const t = Date.now();
    const call = (method: string, path: string, body?: unknown, status?: number): Promise<unknown> =>
      callApi(api?.url ?? '', token(), method, path, body, status, apiCa());
    // the apps' image: the host's PostgreSQL client on busybox, with a CGI script that runs psql;
    // made here and pulled by the nodes. The add-on's own image is its agent's to make.
    const pushed = bootstrapImage(images, 'postgres').then((postgres) =>
      pushSite(postgres, 'notes:v1', { 'www/health': 'ok\n', 'www/cgi-bin/visit': VISIT }),
    );
    for (const name of ['notes', 'outsider']) await call('POST', '/api/apps', { name }, 201);
    const created = (await call('POST', '/api/apps/notes/addons', { type: 'postgres', name: 'notes-db' }, 201)) as {
      id: string;
      node: string | null;
    };
    // placement chose the node: everything below follows it
    const home = cluster?.nodes.find((n) => n.name === created.node);
    assert.ok(home, `notes-db is on a node of the cluster (${created.node})`);
    const url = ((await call('GET', '/api/apps/notes/config-vars')) as Record<string, string>)['DATABASE_URL'] ?? '';
    const m = /^postgres:\/\/postgres:[^@]+@([\d.]+):(\d+)\/postgres$/.exec(url);
    assert.ok(m, `DATABASE_URL is a postgres URL: ${url}`);
    assert.equal(m[1], home.ip, "the URL names its node's service address (the address it joined with)");
    // the app not attached knows the URL, password and all
    await call('PATCH', '/api/apps/outsider/config-vars', { DATABASE_URL: url }, 200);

    // one instance of each app on every node: an attached one away from the add-on, an outsider at its side
    const imageRef = await pushed;
    const pushedAfter = Date.now() - t;
    const nodes = (await ds.manager.find(Node)).filter((n) => n.state === 'up').map((n) => n.name);
    assert.ok(nodes.length >= 2, `two nodes up at least: ${nodes.join(', ')}`);
    const placed = async (name: string): Promise<(Instance & { node: string })[]> => {
      const appId = (await ds.manager.findOneByOrFail(App, { name })).id;
      const release = await createRelease(ds, {
        appId,
        description: 'Deploy v1',
        imageRef,
        imageDigest: null,
        processTypes: { web: `printf '%s' "$DATABASE_URL" > /tmp/db-url && exec httpd -f -p $PORT -h /www` },
        healthchecks: { web: [{ type: 'startup', path: '/health', content: 'ok', attempts: 100, wait: 0 }] },
        createdBy: 'e2e',
      });
      await scale(nodes.length, name);
      return waitFor(`${name}: an instance up on each of ${nodes.join(', ')}`, 60_000, async () => {
        const list = await instances(appId);
        return (
          list.length === nodes.length &&
          list.every((i) => i.state === 'up' && i.releaseId === release.id) &&
          new Set(list.map((i) => i.node)).size === nodes.length &&
          list
        );
      });
    };
    const [attached, outsiders, upAfter] = await Promise.all([
      placed('notes'),
      placed('outsider'),
      waitFor('notes-db up', 60_000, async () => {
        const { state } = (await call('GET', '/api/addons/notes-db')) as { state: string };
        return state === 'up' && Date.now() - t;
      }),
    ]);
    mark(
      `notes-db up after ${upAfter} ms (its image made on ${home.name}), the apps' image pushed after ${pushedAfter} ms, both apps up after ${Date.now() - t} ms`,
    );
    // as on one host: its agent made the image from the node's own binaries (nothing pulled)
    assert.match(cluster?.agentLog(home.index) ?? '', /Bootstrapping postgres from the host's binaries/);

    // through psql in the instances: a row each, the ones on other nodes first (across the nodes' network)
    const visit = (i: Instance & { node: string }): Promise<{ status: number; body: string }> =>
      get(`http://${i.address}/cgi-bin/visit?${i.node}`, undefined, 15_000);
    const order = [...attached.filter((i) => i.node !== home.name), ...attached.filter((i) => i.node === home.name)];
    assert.ok(order[0]?.node !== home.name, 'an attached instance runs on another node than the add-on');
    let seen = '';
    for (const i of order) {
      const res = await visit(i);
      assert.equal(res.status, 200, `notes on ${i.node}: ${res.body}`);
      seen = res.body.trim();
    }
    assert.equal(
      seen,
      order
        .map((i) => i.node)
        .sort()
        .join(','),
      'every row is in the one database',
    );
    // the outsider with the URL and the password, on the add-on's node and on the others: its
    // packets drop before they reach the add-on (a timeout, not a refused password)
    assert.ok(outsiders.some((i) => i.node === home.name) && outsiders.some((i) => i.node !== home.name));
    for (const [i, res] of await Promise.all(outsiders.map(async (i) => [i, await visit(i)] as const))) {
      assert.equal(res.status, 503, `outsider on ${i.node} reached notes-db: ${res.body}`);
      assert.match(res.body, /timeout expired/, `outsider on ${i.node}`);
    }

    // destroyed: its volume goes from its node, then its row
    const volume = join(home.root, 'volumes', addonVolume('notes-db', created.id));
    assert.ok(existsSync(volume), `its volume is on ${home.name}`);
    await call('DELETE', '/api/addons/notes-db?confirm=notes-db', undefined, 204);
    await waitFor(
      `its volume gone from ${home.name}`,
      30_000,
      async () => !existsSync(volume) && !(await ds.manager.findOneBy(Addon, { name: 'notes-db' })),
    );
    const config = (await call('GET', '/api/apps/notes/config-vars')) as Record<string, string>;
    assert.equal(config['DATABASE_URL'], undefined);
    mark(`add-on phase done in ${Date.now() - t} ms`);
  });
});

/** The `p`th percentile (nearest rank) of `xs`. */
function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}
