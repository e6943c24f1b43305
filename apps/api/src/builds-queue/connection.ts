import { type RedisTrust, redisOptions } from '@paas/platform';
import type { RedisOptions } from 'bullmq';

/**
 * BullMQ's connection settings for a REDIS_URL. BullMQ makes (and closes) its own connections
 * from these; ioredis' `retryStrategy` type allows null where BullMQ's does not, and we set
 * none, so it is left out.
 */
export function queueConnection(url: string, trust: RedisTrust = {}): RedisOptions {
  const { retryStrategy: _unused, ...options } = redisOptions(url, trust);
  return options;
}
