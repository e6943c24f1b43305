/**
 * Build rows: made by whoever starts a build (a git push), advanced by the worker, and
 * settled here when the worker itself was lost for good (the queue gave up on the job).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { appendLog, BUILD_LOG_MAX, buildLogKey, endLog } from '../logs';
import { Build } from '../model/entities';
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

/** Everything a build's stream holds, as `Build.output` keeps it (capped). */
export async function streamedOutput(redis: Redis, key: string, max = BUILD_OUTPUT_MAX): Promise<string> {
  const rows = (await redis.xrange(key, '-', '+')) as [string, string[]][];
  let out = '';
  for (const [, fields] of rows) {
    const at = fields.indexOf('s');
    if (fields[at + 1] !== 'build') continue;
    const line = fields[fields.indexOf('l') + 1] ?? '';
    if (out.length + line.length + 1 > max) return `${out}[output truncated at ${max} bytes]\n`;
    out += `${line}\n`;
  }
  return out;
}

/**
 * Fails a build whose worker is gone and whose job the queue will not run again (it stalled
 * too often): the row says why, the stream ends, so the pusher and followers stop waiting.
 * Does nothing to a build that has already finished; true when it settled it.
 */
export async function failLostBuild(
  dataSource: DataSource,
  redis: Redis,
  logPrefix: string,
  buildId: string,
  reason: string,
): Promise<boolean> {
  const build = await dataSource.manager.findOne(Build, { where: { id: buildId } });
  if (!build || build.status === 'succeeded' || build.status === 'failed') return false;
  const key = buildLogKey(logPrefix, buildId);
  await appendLog(redis, key, 'build', ` !     ${reason}`, BUILD_LOG_MAX);
  await appendLog(redis, key, 'build', ' !     Build failed', BUILD_LOG_MAX);
  const output = await streamedOutput(redis, key);
  await dataSource.manager.update(Build, { id: buildId }, { status: 'failed', error: reason, output });
  await endLog(redis, key, 'failed');
  return true;
}
