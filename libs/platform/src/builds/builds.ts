/**
 * Build rows: made by whoever starts a build (a git push), advanced by the worker, and
 * settled here when the worker itself was lost for good (the queue gave up on the job).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { appendLog, BUILD_LOG_MAX, buildLogKey, endLog } from '../logs';
import { lockApp, transaction } from '../model/database';
import { Build } from '../model/entities';
import { failBuildingRelease } from '../release-lifecycle';
import { BUILD_OUTPUT_MAX } from './build-log';

export interface NewBuild {
  readonly appId: string;
  readonly commit: string;
  readonly ref: string;
}

/** A pending build with the app's next build number. */
export async function createBuild(dataSource: DataSource, input: NewBuild): Promise<Build> {
  return dataSource.transaction(async (manager) => {
    const newest = await manager.findOne(Build, { where: { appId: input.appId }, order: { number: 'DESC' } });
    const build = manager.create(Build, {
      id: randomUUID(),
      appId: input.appId,
      number: (newest?.number ?? 0) + 1,
      status: 'pending',
      commit: input.commit,
      ref: input.ref,
      stack: null,
      imageRef: null,
      imageDigest: null,
      processTypes: null,
      healthchecks: null,
      output: '',
      error: null,
      attempts: 0,
      releaseId: null,
    });
    await manager.insert(Build, build);
    return build;
  });
}

/** Stream entries read from Redis at a time. */
const PAGE = 1000;

/**
 * A build's stream as `Build.output` keeps it: at most about `max` characters. A longer output
 * keeps its first quarter and its end, where a failed build says why, with a line between
 * them saying how many lines were left out. Read a page at a time, holding no more than that.
 */
export async function streamedOutput(redis: Redis, key: string, max = BUILD_OUTPUT_MAX): Promise<string> {
  const headMax = Math.floor(max / 4);
  const tailMax = max - headMax;
  let head = '';
  let headFull = false;
  let tail: string[] = [];
  let first = 0; // tail[first..] are kept: a queue without shift()'s copying
  let tailSize = 0;
  let omitted = 0;
  for (let start = '-'; ;) {
    const rows = (await redis.xrange(key, start, '+', 'COUNT', PAGE)) as [string, string[]][];
    for (const [, fields] of rows) {
      if (fields[fields.indexOf('s') + 1] !== 'build') continue;
      const line = `${fields[fields.indexOf('l') + 1] ?? ''}\n`;
      if (!headFull && head.length + line.length <= headMax) {
        head += line;
        continue;
      }
      headFull = true;
      tail.push(line);
      tailSize += line.length;
      while (tailSize > tailMax && first < tail.length) {
        tailSize -= tail[first++]?.length ?? 0;
        omitted++;
      }
      if (first > PAGE && first * 2 > tail.length) {
        tail = tail.slice(first);
        first = 0;
      }
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || !last) break;
    start = `(${last[0]}`;
  }
  const gap = omitted > 0 ? `[${omitted} lines left out: the output was longer than ${max} bytes]\n` : '';
  return `${head}${gap}${tail.slice(first).join('')}`;
}

/**
 * Fails a build whose worker is gone and whose job the queue will not run again (it stalled
 * too often), or whose push gave up on it: the row says why (and its release, if it made one
 * still building, fails with it), the stream ends, so the pusher and followers stop waiting.
 * Does nothing to a build that has already finished; true when it settled it.
 *
 * The row moves under the app's lock, which the build's commit point (releases.ts
 * releaseBuild) takes too: either this comes first, and the build's release can no longer
 * become deploying (its worker may be alive: a job the queue lost is still run by the worker
 * that took it), or the commit point does, and whoever settles the push fails the deploying
 * release (push-lease.ts settleAbandonedPush).
 */
export async function failLostBuild(
  dataSource: DataSource,
  redis: Redis,
  buildId: string,
  reason: string,
): Promise<boolean> {
  const found = await dataSource.manager.findOne(Build, { where: { id: buildId } });
  if (!found || finished(found)) return false;
  const settled = await transaction(dataSource, async (manager) => {
    await lockApp(manager, found.appId);
    const build = await manager.findOne(Build, { where: { id: buildId } });
    if (!build || finished(build)) return false;
    await failBuildingRelease(manager, buildId, reason);
    await manager.update(Build, { id: buildId }, { status: 'failed', error: reason });
    return true;
  });
  if (!settled) return false;
  const key = buildLogKey(buildId);
  await appendLog(redis, key, 'build', ` !     ${reason}`, BUILD_LOG_MAX);
  await appendLog(redis, key, 'build', ' !     Build failed', BUILD_LOG_MAX);
  await dataSource.manager.update(Build, { id: buildId }, { output: await streamedOutput(redis, key) });
  await endLog(redis, key, 'failed');
  return true;
}

function finished(build: Build): boolean {
  return build.status === 'succeeded' || build.status === 'failed';
}
