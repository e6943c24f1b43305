/**
 * A push's hold on its build, kept in Redis beyond the api process that serves the push.
 *
 * The consistency rule of a push (docs/architecture.md, "A push across deaths"): the branch
 * moves only once the push's release is live, and a release is made deployable only while its
 * push is still there to move the branch. So while a push waits, it keeps
 *
 *   PREFIX:pushes            a hash, build id -> the push (repo, ref, old and new commit)
 *   PREFIX:push-lease:ID     a key that expires PUSH_LEASE_MS after the push last renewed it
 *
 * both written together, the lease renewed about every second, both removed when the push
 * answers. A lease that ran out is a push whose api died (kill -9, OOM, power): the pipeline
 * then does not make its build's release deployable (pushHeld), and any api settles it
 * (settleAbandonedPush): a release not live yet is failed, so the branch and the running
 * release stay as they were; a release that went live before the death keeps serving, and
 * the branch is moved to it (the death came after the commit point).
 *
 * Pushes to one app are taken one at a time by every api, so the branch a build started from
 * is still the branch it moves when it ends:
 *
 *   PREFIX:push-lock:APP     the id of the push that holds the app (SET NX PX), renewed like
 *                            a push's lease, deleted by its holder only (compare-and-delete)
 *
 * A push waiting for the app tries again now and then. A holder whose api died stops renewing,
 * and its lock expires PUSH_LEASE_MS later. One that lost its lock (paused longer than that)
 * cannot delete its successor's, and cannot move a branch its successor moved: the branch's move
 * is a compare-and-swap on the commit the push started from (push.service.ts, update-ref).
 */
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { QUEUE_PREFIX } from '../queue';
import { lockApp, transaction } from '../model/database';
import { Release } from '../model/entities';
import { ReleaseTransitionError, releaseFailed } from '../release-lifecycle';
import { failLostBuild } from './builds';

/** A push whose api stopped renewing its lease this long ago is dead. */
export const PUSH_LEASE_MS = 10_000;

/** A push in flight, as any api can read it. */
export interface PushRecord {
  readonly buildId: string;
  readonly appId: string;
  readonly repo: string;
  readonly ref: string;
  /** The commit the branch was at when the push started (zeros when it did not exist). */
  readonly oldId: string;
  /** The pushed commit: what the build builds. */
  readonly newId: string;
}

export const PUSHES_KEY = `${QUEUE_PREFIX}:pushes`;

export function pushLeaseKey(buildId: string): string {
  return `${QUEUE_PREFIX}:push-lease:${buildId}`;
}

/**
 * The push is recorded and holds its build for PUSH_LEASE_MS; again each time the push renews
 * it (so a Redis that lost its keys has them back at the next renewal).
 */
export async function openPush(redis: Redis, push: PushRecord, leaseMs = PUSH_LEASE_MS): Promise<void> {
  await redis
    .multi()
    .hset(PUSHES_KEY, push.buildId, JSON.stringify(push))
    .set(pushLeaseKey(push.buildId), '1', 'PX', leaseMs)
    .exec();
}

/** The push answered: it no longer holds its build. */
export async function closePush(redis: Redis, buildId: string): Promise<void> {
  await redis.multi().hdel(PUSHES_KEY, buildId).del(pushLeaseKey(buildId)).exec();
}

/** Whether the push of a build still holds it (its api renews its lease). */
export async function pushHeld(redis: Redis, buildId: string): Promise<boolean> {
  return (await redis.exists(pushLeaseKey(buildId))) === 1;
}

/** Recorded pushes whose lease ran out: their api died before they answered. */
export async function abandonedPushes(redis: Redis): Promise<PushRecord[]> {
  const all = await redis.hgetall(PUSHES_KEY);
  const found: PushRecord[] = [];
  for (const [buildId, text] of Object.entries(all)) {
    if (await pushHeld(redis, buildId)) continue;
    try {
      found.push(JSON.parse(text) as PushRecord);
    } catch {
      // not ours to read: drop it rather than look at it forever
      await redis.hdel(PUSHES_KEY, buildId);
    }
  }
  return found;
}

/**
 * Settles the build of a push that will not move its branch: `live` when its release went
 * live before (the branch must follow it), else `stopped`: the build, if unfinished, and its
 * release, if building or deploying, are failed with `reason`, so nothing of it goes live.
 */
export async function settleAbandonedPush(
  dataSource: DataSource,
  redis: Redis,
  buildId: string,
  reason: string,
): Promise<'live' | 'stopped'> {
  await failLostBuild(dataSource, redis, buildId, reason);
  for (let tries = 0; ; tries++) {
    const release = await dataSource.manager.findOne(Release, { where: { buildId }, order: { version: 'DESC' } });
    if (!release) return 'stopped';
    if (release.status === 'live' || (release.status === 'superseded' && release.liveAt !== null)) return 'live';
    if (release.status !== 'deploying') return 'stopped';
    try {
      await transaction(dataSource, async (manager) => {
        await lockApp(manager, release.appId);
        await releaseFailed(manager, release.id, reason);
      });
      return 'stopped';
    } catch (err) {
      // the scheduler moved it first (live, or failed): look again
      if (!(err instanceof ReleaseTransitionError) || tries >= 3) throw err;
    }
  }
}

export function appPushLockKey(appId: string): string {
  return `${QUEUE_PREFIX}:push-lock:${appId}`;
}

/** Takes the app's push lock for `holder` when no one holds it: true when taken. */
export async function takeAppPushLock(
  redis: Redis,
  appId: string,
  holder: string,
  leaseMs = PUSH_LEASE_MS,
): Promise<boolean> {
  return (await redis.set(appPushLockKey(appId), holder, 'PX', leaseMs, 'NX')) === 'OK';
}

/** Extends the holder's lock, or takes it again when it is gone (a Redis that lost its keys). */
const RENEW_LOCK_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Keeps `holder`'s lock for another `leaseMs`: false when another push holds the app by now. */
export async function renewAppPushLock(
  redis: Redis,
  appId: string,
  holder: string,
  leaseMs = PUSH_LEASE_MS,
): Promise<boolean> {
  return Number(await redis.eval(RENEW_LOCK_SCRIPT, 1, appPushLockKey(appId), holder, String(leaseMs))) === 1;
}

const RELEASE_LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Lets the app go, unless `holder` lost it: a late release never deletes another's lock. */
export async function releaseAppPushLock(redis: Redis, appId: string, holder: string): Promise<boolean> {
  return Number(await redis.eval(RELEASE_LOCK_SCRIPT, 1, appPushLockKey(appId), holder)) === 1;
}
