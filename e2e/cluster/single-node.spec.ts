/**
 * One node on the host, as `npm run up` runs it: the agent shares the control plane's
 * PAAS_ROOT (the build's images are already in its store: no pull), finds the admin token in
 * the root, and reports instances at their bridge address (no PAAS_NODE_ADDRESS), which the
 * host reaches directly. A bridge and subnet of the spec's own; everything removed at the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { App, Instance, Node, type Release, createRelease } from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, DeploysService, type RunningApi, loadApiConfig, startApi } from '@paas/api/testing';
import { isAlive, mountsUnder } from '../support/cli';
import { type Answer, httpGet, waitFor } from '../support/platform';
import { callApi, readAdminToken } from '../platform/support/api';
import { type Daemon, agentCleanup, startDaemon, stopDaemon } from '../platform/support/daemon';

const base = mkdtempSync(join(tmpdir(), 'paas-node-'));
chmodSync(base, 0o711); // a container's root in a user namespace reaches its bundle under it
const root = join(base, 'root');
const run = join(base, 'run');
const BRIDGE = `pcl${process.pid % 100_000}s`;
const SUBNET = `10.233.${process.pid % 250}.0/24`;

const get = (url: string): Promise<Answer> => httpGet(url);

describe('one node on the host', { timeout: 120_000 }, () => {
  let redis: LocalRedis | undefined;
  let api: RunningApi | undefined;
  let ds: DataSource;
  let agent: Daemon | undefined;
  let app: App;
  let v1: Release;
  const agentEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'],
    PAAS_ROOT: root,
    PAAS_RUN: run,
    PAAS_API_URL: api?.url,
    REDIS_URL: redis?.url,
    PAAS_BRIDGE: BRIDGE,
    PAAS_SUBNET: SUBNET,
    PAAS_IP_FORWARD: '0',
    PAAS_NODE_NAME: 'host',
  });
  const startAgent = async (): Promise<void> => {
    agent = await startDaemon('the agent', 'apps/agent/src/main.ts', agentEnv());
  };
  const running = async (): Promise<Instance[]> =>
    ds.manager.find(Instance, { where: { appId: app.id, desired: 'run' }, order: { number: 'ASC' } });
  /** When the api last heard from the node (ms since the epoch; registering counts). */
  const lastHeartbeat = async (): Promise<number> =>
    Date.parse((await ds.manager.findOneByOrFail(Node, { name: 'host' })).lastHeartbeatAt ?? '') || 0;

  before(async () => {
    redis = await startLocalRedis(join(base, 'redis'));
    api = await startApi(
      loadApiConfig({
        PAAS_ROOT: root,
        PAAS_RUN: run,
        PAAS_API_ADDR: '127.0.0.1:0',
        REDIS_URL: redis.url,
        PAAS_BRIDGE: BRIDGE,
        PAAS_SUBNET: SUBNET,
        PAAS_IP_FORWARD: '0',
        PAAS_RECONCILE_MS: '250',
        PAAS_DRAIN_MS: '100',
        PAAS_STOP_TIMEOUT: '3',
      }),
    );
    ds = api.app.get<DataSource>(DATA_SOURCE);
    // the image as a build leaves it: in the control plane's own store
    const images = await ImageService.open(imageRoots(root));
    const busybox = await bootstrapImage(images, 'busybox');
    const site = join(base, 'site');
    mkdirSync(join(site, 'www'), { recursive: true });
    writeFileSync(join(site, 'www', 'index.html'), 'hello from the host node\n');
    const layer = await images.layerFromDirectory(site);
    await images.commit(
      {
        ...busybox.config,
        rootfs: { type: 'layers', diff_ids: [...busybox.config.rootfs.diff_ids, layer.diffId] },
        config: { ...busybox.config.config, Cmd: ['httpd', '-f', '-p', '5000', '-h', '/www'] },
      },
      [...busybox.manifest.layers, layer.descriptor],
      '127.0.0.1:5000/local:v1',
    );
    await startAgent();
  });

  after(async () => {
    if (agent) await stopDaemon(agent);
    // the node's containers and its bridge, through the agent's own cleanup
    const cleanup = agentCleanup(agentEnv());
    await api?.app.close();
    await redis?.stop();
    rmSync(base, { recursive: true, force: true });
    assert.equal(cleanup.status, 0, cleanup.stderr);
    assert.equal(existsSync(`/sys/class/net/${BRIDGE}`), false, 'the bridge is gone');
    assert.equal(spawnSync('iptables-save', { encoding: 'utf8' }).stdout.includes(BRIDGE), false, 'no rules left');
    assert.deepEqual(mountsUnder(base), []);
  });

  it('runs a release at its bridge address, with the admin token of the shared root', async () => {
    await callApi(api?.url ?? '', readAdminToken(root), 'POST', '/api/apps', { name: 'local' }, 201);
    app = await ds.manager.findOneByOrFail(App, { name: 'local' });
    v1 = await createRelease(ds, {
      appId: app.id,
      description: 'Deploy v1',
      imageRef: '127.0.0.1:5000/local:v1',
      imageDigest: null,
      processTypes: { web: 'httpd -f -p 5000 -h /www' },
      createdBy: 'e2e',
    });
    assert.deepEqual(await api?.app.get(DeploysService).waitLive(v1.id, { timeoutMs: 30_000 }), {
      status: 'live',
      version: 1,
    });
    const [web1] = await running();
    assert.match(
      web1?.address ?? '',
      new RegExp(`^${SUBNET.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.\\d+:5000$`),
    );
    assert.equal((await get(`http://${web1?.address}/`)).body, 'hello from the host node\n');
    assert.doesNotMatch(agent?.output() ?? '', /Pulling/, 'the image was in the shared store');
  });

  it('keeps its containers through an agent restart, and stops them when scaled to zero', async () => {
    const [web1] = await running();
    const pid = web1?.pid ?? 0;
    assert.ok(pid > 0 && isAlive(pid));
    if (agent) await stopDaemon(agent);
    assert.ok(isAlive(pid), 'the container outlives its agent');
    assert.equal((await get(`http://${web1?.address}/`)).status, 200);
    await startAgent();
    // the new agent's own report: a heartbeat after its registration (until then the row says
    // what the old agent reported)
    const registered = await lastHeartbeat();
    await waitFor('a heartbeat of the new agent', 15_000, async () => (await lastHeartbeat()) > registered);
    const [again] = await running();
    assert.deepEqual(
      [again?.id, again?.containerId, again?.pid, again?.state],
      [web1?.id, web1?.containerId, pid, 'up'],
    );
    await callApi(api?.url ?? '', readAdminToken(root), 'PATCH', '/api/apps/local/formation/web', { quantity: 0 }, 200);
    await waitFor(
      'the instance is gone',
      15_000,
      async () => (await ds.manager.count(Instance, { where: { appId: app.id } })) === 0,
    );
    await waitFor('its process is gone', 5000, async () => !isAlive(pid));
  });
});
