import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { transaction } from '../model/database';
import { type App, Build, Release } from '../model/entities';
import { suiteRedis } from '../testing/redis';
import { currentRelease, releaseLive } from '../release-lifecycle';
import { BuildStoppedError, createRelease, releaseBuild } from '../releases';
import { insertApp, openTestDatabase } from '../testing/databases';
import { databaseRoles } from './build-environment';
import { createBuild, failLostBuild } from './builds';
import {
  type PushRecord,
  abandonedPushes,
  appPushLockKey,
  closePush,
  openPush,
  pushHeld,
  releaseAppPushLock,
  renewAppPushLock,
  settleAbandonedPush,
  takeAppPushLock,
} from './push-lease';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const AT = '2026-12-06T00:00:00.000Z';
const REASON = 'the push of this build is gone';
const SUCCESS = (releaseId: string) => ({
  stack: 'dockerfile' as const,
  imageRef: 'registry.test/app:v1',
  imageDigest: `sha256:${'1'.repeat(64)}`,
  processTypes: { web: 'serve' },
  healthchecks: null,
  releaseId,
});

describe('push leases on a real redis-server and database', () => {
  const client = suiteRedis('paas-push-lease-');
  let redis: Redis;
  let ds: DataSource;
  let close: (() => Promise<void>) | undefined;
  before(async () => {
    redis = client();
    ({ dataSource: ds, close } = await openTestDatabase('sqlite'));
  });
  after(async () => {
    await close?.();
  });

  /** A push of B onto main (at A) of `app`, with its build row. */
  async function pushed(app: App): Promise<PushRecord> {
    const build = await createBuild(ds, { appId: app.id, commit: B, ref: 'refs/heads/main' });
    return {
      buildId: build.id,
      appId: app.id,
      repo: `/git/${app.name}.git`,
      ref: 'refs/heads/main',
      oldId: A,
      newId: B,
    };
  }

  /** A release of `buildId` in `status` (v1 live before it, when asked). */
  async function release(
    app: App,
    buildId: string | null,
    status: 'building' | 'deploying' | 'live',
  ): Promise<Release> {
    let made = await createRelease(ds, {
      appId: app.id,
      description: 'Deploy',
      imageRef: 'registry.test/app:v',
      imageDigest: `sha256:${'1'.repeat(64)}`,
      processTypes: { web: 'serve' },
      healthchecks: null,
      buildId,
      idempotencyKey: `${buildId ?? 'none'}:${Math.random()}`,
      building: true,
      createdBy: null,
    });
    if (status === 'building') return made;
    made = await transaction(ds, (m) => releaseBuild(m, made.id));
    if (status === 'deploying') return made;
    return transaction(ds, (m) => releaseLive(m, made.id, AT));
  }

  it('holds while renewed, is abandoned once its lease runs out, and is gone once closed', async () => {
    const app = await insertApp(ds, 'leases');
    const push = await pushed(app);
    await openPush(redis, push, 60_000);
    assert.equal(await pushHeld(redis, push.buildId), true);
    assert.deepEqual(await abandonedPushes(redis), []);
    await openPush(redis, push, 1);
    while (await pushHeld(redis, push.buildId)) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await abandonedPushes(redis), [push]);
    await closePush(redis, push.buildId);
    assert.deepEqual(await abandonedPushes(redis), []);
  });

  it('a build of a dead push that made no release yet is failed', async () => {
    const app = await insertApp(ds, 'no-release');
    const push = await pushed(app);
    assert.equal(await settleAbandonedPush(ds, redis, push.buildId, REASON), 'stopped');
    const build = await ds.manager.findOneByOrFail(Build, { id: push.buildId });
    assert.equal(build.status, 'failed');
    assert.equal(build.error, REASON);
  });

  it('a deploying release of a dead push is failed, and the live one stays current', async () => {
    const app = await insertApp(ds, 'deploying');
    const v1 = await release(app, null, 'live');
    const push = await pushed(app);
    const v2 = await release(app, push.buildId, 'deploying');
    await ds.manager.update(Build, { id: push.buildId }, { status: 'succeeded', releaseId: v2.id });
    assert.equal(await settleAbandonedPush(ds, redis, push.buildId, REASON), 'stopped');
    const after = await ds.manager.findOneByOrFail(Release, { id: v2.id });
    assert.equal(after.status, 'failed');
    assert.equal(after.deployError, REASON);
    assert.equal((await currentRelease(ds.manager, app.id))?.id, v1.id);
    assert.equal((await ds.manager.findOneByOrFail(Build, { id: push.buildId })).status, 'succeeded');
  });

  it('a building release of a dead push is failed with its build', async () => {
    const app = await insertApp(ds, 'building');
    const push = await pushed(app);
    const v1 = await release(app, push.buildId, 'building');
    assert.equal(await settleAbandonedPush(ds, redis, push.buildId, REASON), 'stopped');
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'failed');
    assert.equal((await ds.manager.findOneByOrFail(Build, { id: push.buildId })).status, 'failed');
  });

  it('a build failed while its worker goes on makes nothing deployable (a job the queue lost)', async () => {
    const app = await insertApp(ds, 'lost-job');
    const push = await pushed(app);
    const roles = databaseRoles(ds);
    await roles.builds.started(push.buildId, 1);
    assert.equal(await failLostBuild(ds, redis, push.buildId, REASON), true);
    assert.equal(await failLostBuild(ds, redis, push.buildId, 'again'), false, 'once');
    // the worker, unaware, makes its release and reaches the commit point
    const v1 = await release(app, push.buildId, 'building');
    await assert.rejects(
      transaction(ds, (m) => releaseBuild(m, v1.id)),
      (err: Error) => err instanceof BuildStoppedError && err.message.includes(REASON),
    );
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'building', 'not deploying');
    await assert.rejects(roles.builds.succeeded(push.buildId, SUCCESS(v1.id)), BuildStoppedError);
    await assert.rejects(roles.builds.started(push.buildId, 2), BuildStoppedError);
    // its failure then fails the release, and the row keeps the first reason
    await roles.builds.failed(push.buildId, 'the build was stopped before its release', 'output');
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'failed');
    const build = await ds.manager.findOneByOrFail(Build, { id: push.buildId });
    assert.equal(build.status, 'failed');
    assert.equal(build.error, REASON);
  });

  it('a build failed after its commit point leaves its deploying release to the push to settle', async () => {
    const app = await insertApp(ds, 'late-loss');
    const push = await pushed(app);
    await databaseRoles(ds).builds.started(push.buildId, 1);
    const v1 = await release(app, push.buildId, 'deploying');
    assert.equal(await failLostBuild(ds, redis, push.buildId, REASON), true);
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'deploying');
    await assert.rejects(databaseRoles(ds).builds.succeeded(push.buildId, SUCCESS(v1.id)), BuildStoppedError);
    // the push that saw its build fail settles it: the release never goes live
    assert.equal(await settleAbandonedPush(ds, redis, push.buildId, REASON), 'stopped');
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'failed');
  });

  it('a release of a dead push that went live stays live: the branch must follow it', async () => {
    const app = await insertApp(ds, 'went-live');
    const push = await pushed(app);
    const v1 = await release(app, push.buildId, 'live');
    await ds.manager.update(Build, { id: push.buildId }, { status: 'succeeded', releaseId: v1.id });
    assert.equal(await settleAbandonedPush(ds, redis, push.buildId, REASON), 'live');
    assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).status, 'live');
  });
});

describe("an app's push lock on a real redis-server", { timeout: 20_000 }, () => {
  const client = suiteRedis('paas-push-lock-');
  let redis: Redis;
  before(() => {
    redis = client();
  });

  /** Until the lock of `app` expired (a holder whose api died stops renewing it). */
  async function expired(app: string): Promise<void> {
    while ((await redis.exists(appPushLockKey(app))) === 1) await new Promise((r) => setTimeout(r, 5));
  }

  it('is held by one holder at a time, and taken by the next once released', async () => {
    assert.equal(await takeAppPushLock(redis, 'two-holders', 'one'), true);
    assert.equal(await takeAppPushLock(redis, 'two-holders', 'two'), false);
    assert.equal(await takeAppPushLock(redis, 'two-holders', 'one'), false, 'not twice, even by its holder');
    assert.equal(await takeAppPushLock(redis, 'another-app', 'two'), true, 'apps are locked apart');
    assert.equal(await renewAppPushLock(redis, 'two-holders', 'two'), false, 'a waiter cannot renew it');
    assert.equal(await releaseAppPushLock(redis, 'two-holders', 'two'), false, 'nor release it');
    assert.equal(await releaseAppPushLock(redis, 'two-holders', 'one'), true);
    assert.equal(await takeAppPushLock(redis, 'two-holders', 'two'), true);
  });

  it('renewing extends the lease of its holder', async () => {
    assert.equal(await takeAppPushLock(redis, 'renewed', 'one', 1000), true);
    assert.equal(await renewAppPushLock(redis, 'renewed', 'one', 60_000), true);
    assert.ok((await redis.pttl(appPushLockKey('renewed'))) > 1000, 'the renewed lease is the new one');
    assert.equal(await redis.get(appPushLockKey('renewed')), 'one');
  });

  it('expires when its holder stops renewing it (its api died)', async () => {
    assert.equal(await takeAppPushLock(redis, 'dead-holder', 'dead', 1), true);
    await expired('dead-holder');
    assert.equal(await takeAppPushLock(redis, 'dead-holder', 'next'), true);
  });

  it('a holder that lost it neither renews nor releases the lock of its successor', async () => {
    assert.equal(await takeAppPushLock(redis, 'late', 'paused', 1), true);
    await expired('late');
    assert.equal(await takeAppPushLock(redis, 'late', 'next'), true);
    assert.equal(await releaseAppPushLock(redis, 'late', 'paused'), false);
    assert.equal(await renewAppPushLock(redis, 'late', 'paused'), false);
    assert.equal(await redis.get(appPushLockKey('late')), 'next');
    assert.equal(await takeAppPushLock(redis, 'late', 'third'), false);
  });

  it('its holder takes it again when Redis lost it (a restart without persistence)', async () => {
    assert.equal(await takeAppPushLock(redis, 'lost', 'one'), true);
    await redis.del(appPushLockKey('lost'));
    assert.equal(await renewAppPushLock(redis, 'lost', 'one'), true);
    assert.equal(await takeAppPushLock(redis, 'lost', 'two'), false);
  });
});
