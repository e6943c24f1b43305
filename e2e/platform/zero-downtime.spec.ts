/**
 * The whole platform on one host, as `npm run up` runs it — the api (REST, git receiver, an
 * in-process build worker, the scheduler), one agent sharing its root, the router — and a
 * static site deployed with real `git push`es. Steady keep-alive load goes through the router
 * (Host: site.localhost) during a deploy, during scale 1 -> 5 -> 1 and during a rollback, and
 * every response must be a 2xx: no error status, no socket error. A release whose instances
 * fail their check rejects its push while the live one keeps serving. The node offers 1 GiB
 * (PAAS_NODE_MEMORY, no overcommit), so two instances of 512 MiB fill it: a deploy then has no
 * room for a second copy and rolls, one instance at a time, still without a failed request.
 *
 * Review apps (#25): a push of branch feature-x makes `site--feature-x`, serving that branch's
 * commit at its own host while the site is unchanged; a second push updates it; `git push
 * --delete` removes it, its route with it.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { App, Instance, Release } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { containersUnder } from '../support/cli';
import { type Answer, httpGet, waitFor } from '../support/platform';
import { type PlatformHost, startPlatformHost } from './support/host';

const HOST = 'site.localhost';

interface Load {
  /** Status code (or error code) -> count. */
  readonly outcomes: Map<string, number>;
  /** Body -> count, for the 200s. */
  readonly bodies: Map<string, number>;
  stop(): Promise<void>;
}

const count = (map: Map<string, number>, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

const loads = new Set<Load>();

/** `concurrency` clients sending GET / through the router back to back on keep-alive connections. */
function load(routerUrl: string, concurrency = 6): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const outcomes = new Map<string, number>();
  const bodies = new Map<string, number>();
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = httpRequest(`${routerUrl}/`, { agent, headers: { host: HOST }, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          count(outcomes, String(res.statusCode));
          if (res.statusCode === 200) count(bodies, Buffer.concat(chunks).toString('utf8').trim());
          resolve();
        });
        res.on('error', (err: NodeJS.ErrnoException) => {
          count(outcomes, err.code ?? err.message);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => {
        count(outcomes, err.code ?? err.message);
        resolve();
      });
      req.end();
    });
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  const handle: Load = {
    outcomes,
    bodies,
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      loads.delete(handle);
    },
  };
  loads.add(handle);
  return handle;
}

/** GET through the router with the app's Host. */
const get = (url: string): Promise<Answer> => httpGet(url, HOST, 5000);

function assertNoErrors(what: string, l: Load): number {
  const all = Object.fromEntries(l.outcomes);
  const total = [...l.outcomes.values()].reduce((a, b) => a + b, 0);
  assert.deepEqual(Object.keys(all), ['200'], `${what}: every response a 200, got ${JSON.stringify(all)}`);
  assert.ok(total > 50, `${what}: enough requests to mean something (${total})`);
  return total;
}

describe('zero downtime through the router (api + agent + router on one host)', { timeout: 300_000 }, () => {
  let host: PlatformHost;
  let ds: DataSource;
  let routerUrl = '';
  let dir = '';
  /** The platform's root: the node's containers are under it. */
  let root = '';

  const api$ = (method: string, path: string, body?: unknown): Promise<unknown> => host.call(method, path, body);
  const commit = (files: Record<string, string>, message: string): string => host.commit(dir, files, message);
  const push = (): ReturnType<PlatformHost['push']> => host.push(dir);

  /** Web instances the router has (the route table's backends are the up ones of the live release). */
  const upWeb = async (): Promise<Instance[]> =>
    (await ds.manager.find(Instance, { where: { type: 'web', desired: 'run' } })).filter((i) => i.state === 'up');

  const serves = (body: string): Promise<boolean> =>
    waitFor(`the router serves "${body}"`, 30_000, async () => {
      const res = await get(`${routerUrl}/`);
      return res.status === 200 && res.body.trim() === body;
    });

  before(async () => {
    host = await startPlatformHost({
      api: { PAAS_RECONCILE_MS: '250', PAAS_DRAIN_MS: '500', PAAS_STOP_TIMEOUT: '3', PAAS_DEPLOY_TIMEOUT: '30' },
      agent: { PAAS_NODE_MEMORY: '1024', PAAS_NODE_OVERCOMMIT: '1' },
      router: { PAAS_ROUTER_HEALTH_INTERVAL_MS: '500' },
    });
    ds = host.ds;
    routerUrl = host.routerUrl;
    root = host.cliEnv['PAAS_ROOT'] ?? '';
    dir = await host.checkout('site');
  });

  after(async () => {
    for (const l of loads) await l.stop(); // a failed test's load
    if (!host) return;
    const left = await host.stop();
    assert.deepEqual(left, { mounts: [], containers: [], cgroups: [], problems: [] }, 'the platform left something');
  });

  it('deploys v1 with git push: the push ends once the router serves it', async () => {
    commit({ 'index.html': 'site v1\n' }, 'v1');
    const pushed = await push();
    assert.equal(pushed.status, 0, pushed.output);
    assert.match(pushed.output, /remote: -----> Launching\.\.\./);
    assert.match(pushed.output, /remote: {8}Released v1: http:\/\/site\.localhost:\d+ deployed/);
    // the route table is switched before the release counts as live; routers hear of it
    // through Redis pub/sub a moment later
    await serves('site v1');
  });

  it("a branch's push makes its review app at its own host; a second push updates it; --delete removes it", async () => {
    const REVIEW = 'site--feature-x';
    const review = (): Promise<Answer> => httpGet(`${routerUrl}/`, `${REVIEW}.localhost`, 5000);
    const ok = async (...args: string[]): Promise<string> => {
      const r = await host.git(dir, ...args);
      assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.output}`);
      return r.output;
    };
    const site = await ds.manager.findOneByOrFail(App, { name: 'site' });
    const siteReleases = await ds.manager.count(Release, { where: { appId: site.id } });
    await ok('checkout', '--quiet', '-b', 'feature-x');
    try {
      commit({ 'index.html': 'review v1\n' }, 'review v1');
      const first = await host.push(dir, 'feature-x');
      assert.equal(first.status, 0, first.output);
      assert.match(first.output, /remote: -----> Review app site--feature-x of site for feature-x/);
      assert.match(first.output, /remote: {8}Released v1: http:\/\/site--feature-x\.localhost:\d+ deployed/);
      await waitFor('the router serves review v1 at its host', 30_000, async () => {
        const res = await review();
        return res.status === 200 && res.body === 'review v1\n';
      });
      assert.equal((await get(`${routerUrl}/`)).body, 'site v1\n', 'the site is unchanged');
      const app = await ds.manager.findOneByOrFail(App, { name: REVIEW });
      assert.deepEqual([app.parentId, app.branch], [site.id, 'feature-x']);

      commit({ 'index.html': 'review v2\n' }, 'review v2');
      const second = await host.push(dir, 'feature-x');
      assert.equal(second.status, 0, second.output);
      assert.match(second.output, /Released v2: http:\/\/site--feature-x\.localhost:\d+ deployed/);
      await waitFor('the router serves review v2', 30_000, async () => (await review()).body === 'review v2\n');
      assert.equal((await ds.manager.findOneByOrFail(App, { name: REVIEW })).id, app.id, 'the same review app');
      const listed = (await api$('GET', '/api/apps/site/reviews')) as { name: string; branch: string }[];
      assert.deepEqual(
        listed.map((r) => [r.name, r.branch]),
        [[REVIEW, 'feature-x']],
      );

      // the engine's containers of its instances, to see them leave the node
      const containers = (await ds.manager.find(Instance, { where: { appId: app.id } })).flatMap(
        (i) => i.containerId ?? [],
      );
      assert.ok(containers.length > 0, 'the review app runs a container');
      const before = new Set(containersUnder(root));
      assert.ok(
        containers.every((id) => before.has(id)),
        `its containers ${containers.join(', ')} are on the node`,
      );
      const deleted = await ok('push', 'paas', '--delete', 'feature-x');
      assert.match(deleted, /remote: -----> Destroyed review app site--feature-x with feature-x/);
      assert.equal(await ds.manager.findOneBy(App, { name: REVIEW }), null);
      await waitFor('the router no longer knows the review app', 30_000, async () => (await review()).status === 404);
      // its container leaves the node, which the next tests fill (its Instance rows go at once,
      // with the app: the engine's containers are what holds the node's memory)
      await waitFor('the review app has no container left on the node', 30_000, async () => {
        const running = new Set(containersUnder(root));
        return containers.every((id) => !running.has(id));
      });
      assert.equal((await get(`${routerUrl}/`)).body, 'site v1\n');
      assert.equal(
        await ds.manager.count(Release, { where: { appId: site.id } }),
        siteReleases,
        'no release of the site',
      );
    } finally {
      await ok('checkout', '--quiet', 'main');
      // a test that failed partway leaves no review app to take the node's room from the next
      if (await ds.manager.findOneBy(App, { name: REVIEW })) await api$('DELETE', `/api/apps/${REVIEW}`);
    }
  });

  it('deploys v2 under load: no request fails, and the answers move from v1 to v2', async (t) => {
    const l = load(routerUrl);
    await new Promise((r) => setTimeout(r, 500));
    commit({ 'index.html': 'site v2\n' }, 'v2');
    const pushed = await push();
    await new Promise((r) => setTimeout(r, 1000));
    await l.stop();
    assert.equal(pushed.status, 0, pushed.output);
    t.diagnostic(`deploy: ${assertNoErrors('deploy', l)} requests through the router, all 200`);
    assert.ok((l.bodies.get('site v1') ?? 0) > 0 && (l.bodies.get('site v2') ?? 0) > 0, JSON.stringify([...l.bodies]));
    assert.deepEqual([...l.bodies.keys()].sort(), ['site v1', 'site v2']);
  });

  it('scales 1 -> 5 -> 1 under load without a failed request', async (t) => {
    const l = load(routerUrl);
    await api$('PATCH', '/api/apps/site/formation', { updates: [{ type: 'web', quantity: 5, size: '64M' }] });
    await waitFor('five web instances up', 30_000, async () => (await upWeb()).length === 5).catch(async (err) => {
      const all = await ds.manager.find(Instance, { where: { type: 'web' } });
      throw new Error(
        `${(err as Error).message}\n${JSON.stringify(all, null, 1)}\n${host.daemons.get('agent')?.output().slice(-3000)}`,
      );
    });
    await new Promise((r) => setTimeout(r, 1500)); // the router spreads load over all five
    await api$('PATCH', '/api/apps/site/formation/web', { quantity: 1 });
    await waitFor('back to one web instance', 30_000, async () => (await upWeb()).length === 1);
    await new Promise((r) => setTimeout(r, 1500));
    await l.stop();
    t.diagnostic(`scale: ${assertNoErrors('scale', l)} requests through the router, all 200`);
    assert.deepEqual([...l.bodies.keys()], ['site v2']);
  });

  it('rolls back to v1 under load without a failed request', async (t) => {
    const l = load(routerUrl);
    await new Promise((r) => setTimeout(r, 300));
    const release = (await api$('POST', '/api/apps/site/releases', { release: 1 })) as { version: number };
    await serves('site v1');
    await new Promise((r) => setTimeout(r, 1000));
    await l.stop();
    t.diagnostic(`rollback: ${assertNoErrors('rollback', l)} requests through the router, all 200`);
    assert.equal(release.version, 3);
    assert.deepEqual([...l.bodies.keys()].sort(), ['site v1', 'site v2']);
  });

  it('rejects a push whose instances fail their check; the live release keeps serving', async (t) => {
    const l = load(routerUrl);
    commit({ Procfile: 'web: sh -c "echo broken; exit 3"\n', 'index.html': 'site broken\n' }, 'broken');
    const pushed = await push();
    await l.stop();
    assert.notEqual(pushed.status, 0, pushed.output);
    assert.match(pushed.output, /! \[remote rejected\] main -> main \(deploy failed\)/);
    assert.match(pushed.output, /remote: {2}! {5}The previous release keeps serving\./);
    t.diagnostic(`failed deploy: ${assertNoErrors('failed deploy', l)} requests through the router, all 200`);
    assert.deepEqual([...l.bodies.keys()], ['site v1']);
    await serves('site v1');
  });

  it('deploys on a full node by rolling (no room for a second copy) without a failed request', async (t) => {
    // two of 512 MiB fill the node's 1 GiB: a deploy cannot start beside them
    await api$('PATCH', '/api/apps/site/formation', { updates: [{ type: 'web', quantity: 2, size: 'standard-1x' }] });
    await waitFor('two standard-1x web instances up and routed', 60_000, async () => {
      const up = await upWeb();
      return up.length === 2 && up.every((i) => i.size === 'standard-1x');
    });
    await new Promise((r) => setTimeout(r, 1500)); // the router has both
    const l = load(routerUrl);
    // how many web instances the node holds at once, leaving ones included
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await ds.manager.count(Instance, { where: { type: 'web' } }));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await api$('PATCH', '/api/apps/site/config-vars', { ROLLED: '1' });
    const newest = async (): Promise<Release | null> =>
      ds.manager.findOne(Release, { where: { appId: (await upWeb())[0]?.appId ?? '' }, order: { version: 'DESC' } });
    await waitFor('the config release live on two new instances', 60_000, async () => {
      const release = await newest();
      const up = await upWeb();
      return release?.status === 'live' && up.length === 2 && up.every((i) => i.releaseId === release.id);
    });
    await new Promise((r) => setTimeout(r, 1500));
    sampling = false;
    await sampler;
    await l.stop();
    t.diagnostic(`rolling deploy: ${assertNoErrors('rolling deploy', l)} requests through the router, all 200`);
    assert.deepEqual([...l.bodies.keys()], ['site v1']);
    assert.ok(most <= 2, `the node never held more than it has room for (${most} web instances at once)`);
  });

  it('ps:restart replaces every instance on the full node, rolling, without a failed request', async (t) => {
    const before = new Set((await upWeb()).map((i) => i.id));
    assert.equal(before.size, 2);
    const l = load(routerUrl);
    await new Promise((r) => setTimeout(r, 500));
    const marked = (await api$('POST', '/api/apps/site/instances/restart', { process: 'web' })) as { name: string }[];
    assert.deepEqual(marked.map((i) => i.name).sort(), ['web.1', 'web.2']);
    await waitFor('two new web instances up', 60_000, async () => {
      const up = await upWeb();
      return up.length === 2 && up.every((i) => !before.has(i.id));
    });
    await new Promise((r) => setTimeout(r, 1500));
    await l.stop();
    t.diagnostic(`restart: ${assertNoErrors('restart', l)} requests through the router, all 200`);
  });
});
