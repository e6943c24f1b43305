/**
 * Honest capacity on one real node (api + agent + router on this host, busybox static sites
 * pushed with git): the node offers 8 GiB at the default overcommit of 2, so placement may
 * promise 16 GiB of instances' memory limits while CPU is shared by weight. What the CLI says
 * is checked against what runs:
 *
 *   200 instances of the smallest size all serve through the router, and go back to one
 *   more than the node could ever hold is refused with the largest count
 *   scaling past what is free leaves instances pending, with the reason, in ps:scale and ps
 *   a new app's push on the full node fails at once with the reason (not at the deploy timeout)
 *
 * The 1,000-instance run is e2e/bench/capacity.sh platform.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Instance } from '@paas/platform';
import { readAppRoute } from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import { REDIS } from '@paas/api/testing';
import { type Result, paasAsync } from '../support/cli';
import { httpGet, waitFor } from '../support/platform';
import { type PlatformHost, startPlatformHost } from './support/host';

const MANY = 200;

describe('capacity of one node (api + agent + router on one host)', { timeout: 600_000 }, () => {
  let host: PlatformHost;
  let redis: Redis;
  // the api runs in this process: the CLI runs beside it, never blocking it
  const paasOk = async (...args: string[]): Promise<Result> => {
    const r = await paasAsync(args, host.cliEnv);
    assert.equal(r.status, 0, `paas ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    return r;
  };
  const paasFail = async (...args: string[]): Promise<Result> => {
    const r = await paasAsync(args, host.cliEnv);
    assert.notEqual(r.status, 0, `paas ${args.join(' ')} should fail:\n${r.stdout}${r.stderr}`);
    return r;
  };

  const backends = async (app: string): Promise<string[]> =>
    ((await readAppRoute(redis, app)).route?.backends ?? []).map((b) => b.address);
  const running = (app: string): Promise<number> =>
    host.ds.manager
      .createQueryBuilder(Instance, 'i')
      .innerJoin('apps', 'a', 'a.id = i."appId"')
      .where('a.name = :app AND i.desired = :run', { app, run: 'run' })
      .getCount();

  /** A static site `name` pushed and serving through the router. */
  const site = async (name: string): Promise<void> => {
    const dir = await host.checkout(name);
    host.commit(dir, { 'index.html': `${name}\n` }, 'v1');
    const pushed = await host.push(dir);
    assert.equal(pushed.status, 0, pushed.output);
    await waitFor(`${name} serves`, 60_000, async () => {
      const res = await httpGet(`${host.routerUrl}/`, `${name}.localhost`, 5000);
      return res.status === 200 && res.body === `${name}\n`;
    });
  };

  before(async () => {
    host = await startPlatformHost({
      api: { PAAS_RECONCILE_MS: '250', PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2', PAAS_DEPLOY_TIMEOUT: '300' },
      agent: { PAAS_NODE_MEMORY: '8192' },
      router: { PAAS_ROUTER_HEALTH_INTERVAL_MS: '1000' },
    });
    redis = host.api.app.get<Redis>(REDIS);
    await site('many');
  });

  after(async () => {
    if (!host) return;
    const left = await host.stop();
    assert.deepEqual(left, { mounts: [], containers: [], cgroups: [], problems: [] }, 'the platform left something');
  });

  it(`scales to ${MANY} instances of the smallest size, all serving through the router, and back to 1`, async (t) => {
    const t0 = Date.now();
    const scaled = await paasOk('ps:scale', `web=${MANY}:nano`, '-a', 'many', '--no-wait');
    assert.match(scaled.stderr, /^Scaling processes\.\.\. done, web at 200:nano/);
    await waitFor(`${MANY} backends in the route table`, 300_000, async () => (await backends('many')).length === MANY);
    const addresses = await backends('many');
    const answers = await Promise.all(addresses.map((a) => httpGet(`http://${a}/`, 'many.localhost', 10_000)));
    assert.deepEqual(
      answers.filter((a) => a.status !== 200 || a.body !== 'many\n').length,
      0,
      'every instance answers for itself',
    );
    t.diagnostic(`1 -> ${MANY} nano instances serving in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (let k = 0; k < 50; k++) {
      const res = await httpGet(`${host.routerUrl}/`, 'many.localhost', 5000);
      assert.equal(res.status, 200, `request ${k} through the router`);
    }
    // what ps says is what runs
    const ps = await paasOk('ps', '-a', 'many');
    assert.match(ps.stdout, new RegExp(`^=== web \\(nano\\): .* \\(${MANY} up\\)\\n`));
    assert.equal(ps.stdout.split('\n').filter((l) => /^web\.\d+: up /.test(l)).length, MANY);

    const t1 = Date.now();
    await paasOk('ps:scale', 'web=1', '-a', 'many', '--no-wait');
    await waitFor(
      'back to one',
      120_000,
      async () => (await backends('many')).length === 1 && (await running('many')) === 1,
    );
    await waitFor(
      'the others gone from the node',
      120_000,
      async () => (await host.ds.manager.count(Instance, { where: { type: 'web' } })) === 1,
    );
    t.diagnostic(`${MANY} -> 1 in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  });

  it('refuses more than the node could ever hold, with the largest count', async () => {
    // 8 GiB x 2 = 16 GiB: 512 of 32 MiB
    const r = await paasFail('ps:scale', 'web=600:nano', '-a', 'many');
    assert.match(
      r.stderr,
      /web=600:nano is more than the nodes could ever hold: at most 512 of 32 MiB fit on 1 node\n/,
    );
    const size = await paasFail('ps:scale', 'web=1:enormous', '-a', 'many');
    assert.match(size.stderr, /unknown size 'enormous'/);
  });

  it('scaling past what is free leaves instances pending with the reason, in ps:scale and ps', async () => {
    await site('big');
    // 3 x 4100 MiB of the 16 GiB: 4,084 MiB left, so 15 of 20 basic (256 MiB) fit beside them
    await paasOk('ps:scale', 'web=3:4100M', '-a', 'big');
    await waitFor('big at 3 x 4100M', 60_000, async () => (await backends('big')).length === 3);
    const scaled = await paasOk('ps:scale', 'web=20:basic', '-a', 'many');
    assert.match(scaled.stderr, /done, web at 20:basic \(15 of 20 up, 5 waiting: no node has 256 MiB free\)/);
    const ps = await paasOk('ps', '-a', 'many');
    assert.match(ps.stdout, /^=== web \(basic\): .* \(15 of 20 up, 5 waiting: no node has 256 MiB free\)\n/);
    assert.equal(
      ps.stdout.split('\n').filter((l) => /^web\.\d+: pending \(no node has 256 MiB free\)$/.test(l)).length,
      5,
    );
    assert.equal(await running('many'), 15);
  });

  it("a new app's push on the full node fails at once with the reason", async () => {
    const dir = await host.checkout('third');
    host.commit(dir, { 'index.html': 'third\n' }, 'v1');
    const t0 = Date.now();
    const pushed = await host.push(dir);
    assert.notEqual(pushed.status, 0, pushed.output);
    assert.match(pushed.output, /no room for 1 web \(256 MiB\): no node has 256 MiB free/);
    assert.match(pushed.output, /! \[remote rejected\] main -> main \(deploy failed\)/);
    // far from the deploy timeout (300 s): the build is most of it
    assert.ok(Date.now() - t0 < 60_000, `the push took ${Date.now() - t0} ms`);
    const releases = (await host.call('GET', '/api/apps/third/releases')) as { status: string; error: string }[];
    assert.equal(releases[0]?.status, 'failed');
    // room again: the pending ones of `many` take it as `big` shrinks
    await paasOk('ps:scale', 'web=1', '-a', 'big');
    await waitFor('many fully up', 120_000, async () => (await backends('many')).length === 20);
  });
});
