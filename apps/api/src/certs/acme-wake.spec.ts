/**
 * When the leader's ACME issuer looks (SchedulerService.wakeAcmeIssuer): on its timer, when
 * automatic certificates are enabled for an app or a domain is added to such an app, through
 * whichever api serves the request, and never because of a scheduler pass (passes run at every
 * burst of heartbeats). The timers are kept out of the way (passes a minute, the issuer an
 * hour), so only a wake can make the issuer look. Orders go to a directory where nothing
 * listens: each fails at once, which the domain's state shows.
 */
import { App, Domain, askForPass } from '@paas/platform';
import { freePort } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SchedulerService } from '../scheduler/scheduler.service';
import { createApp } from '../testing/fixtures';
import { type TestApi, type TestReplica, startTestApi, startTestReplica } from '../testing/harness';
import { waitFor } from '../testing/wait';

const quiet = async () => ({
  PAAS_RECONCILE_MS: '60000',
  PAAS_NODE_TIMEOUT: '600',
  PAAS_ACME_INTERVAL_MS: '3600000',
  PAAS_ACME_DIRECTORY: `https://127.0.0.1:${await freePort()}/dir`,
});

const domainState = async (api: TestApi, hostname: string) =>
  (await api.dataSource.manager.findOneByOrFail(Domain, { hostname })).acmeState;

describe('the ACME issuer woken through another api, and by no pass', () => {
  let leader: TestApi;
  let follower: TestReplica;
  before(async () => {
    const env = await quiet();
    leader = await startTestApi('postgres', env);
    follower = await startTestReplica(leader, env);
  });
  after(async () => {
    await follower?.close();
    await leader?.close();
  });

  it('the leader orders at once when auto certificates are enabled through the follower', async () => {
    assert.equal((await follower.request('GET', '/api/health')).body.leader, false);
    await createApp(leader, 'shop');
    const added = await follower.request('POST', '/api/apps/shop/domains', { body: { hostname: 'www.shop.test' } });
    assert.equal(added.status, 201, added.text);
    assert.equal(await domainState(leader, 'www.shop.test'), null, 'not auto yet: nothing to order');
    const on = await follower.request('POST', '/api/apps/shop/certs/auto');
    assert.equal(on.status, 200, on.text);
    await waitFor(async () => (await domainState(leader, 'www.shop.test')) === 'failed', 'the order made and failed');
  });

  it('the leader orders at once for a domain added through the follower to an auto app', async () => {
    const added = await follower.request('POST', '/api/apps/shop/domains', { body: { hostname: 'api.shop.test' } });
    assert.equal(added.status, 201, added.text);
    await waitFor(async () => (await domainState(leader, 'api.shop.test')) === 'failed', 'the order made and failed');
    // the one before is not due again (backed off): the round ordered the new domain alone
    const first = await leader.dataSource.manager.findOneByOrFail(Domain, { hostname: 'www.shop.test' });
    assert.equal(first.acmeAttempts, 1);
  });

  it('a domain written without the api waits for the timer: no pass wakes the issuer', async () => {
    const shop = await leader.dataSource.manager.findOneByOrFail(App, { name: 'shop' });
    const manager = leader.dataSource.manager;
    await manager.insert(
      Domain,
      manager.create(Domain, { id: randomUUID(), appId: shop.id, hostname: 'old.shop.test' }),
    );
    // a pass asked for over Redis, as agents' heartbeats and build workers do, and one here
    await askForPass(leader.redis);
    const scheduler = leader.api.app.get(SchedulerService);
    await scheduler.reconcileNow();
    // the follower would take office once the leader stops, and its issuer look at once
    await follower.close();
    // as the api's shutdown does: waits for the round a pass would have started; any round
    // marks a new domain of an auto app `waiting` before it orders (acme-issuer.ts survey)
    await scheduler.onApplicationShutdown();
    assert.equal(await domainState(leader, 'old.shop.test'), null);
  });
});
