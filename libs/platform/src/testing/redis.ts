/**
 * A redis-server of a test suite's own: started in the suite's `before`, stopped with its
 * directory in its `after`, whatever failed. Call it inside `describe`; the client it returns
 * answers once `before` has run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { redisOptions } from '../redis';
import { type LocalRedis, startLocalRedis } from '../redis-server';

export function suiteRedis(prefix: string): () => Redis {
  let dir: string | undefined;
  let server: LocalRedis | undefined;
  let redis: Redis | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    server = await startLocalRedis(join(dir, 'redis'));
    redis = new Redis(redisOptions(server.url));
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!redis) throw new Error('suiteRedis: the suite has not started');
    return redis;
  };
}
