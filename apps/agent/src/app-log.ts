/**
 * The agent's two uses of Redis (roles.ts): instances' output goes into their app's log
 * stream (`app[web.1]`), and the control plane nudges the node on its channel to heartbeat
 * at once instead of at the next beat.
 */
import { writeAppLog } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { AppLog, Nudges } from './roles';

export class RedisAppLog implements AppLog {
  constructor(private readonly redis: Redis) {}

  append(appId: string, source: string, line: string): Promise<void> {
    return writeAppLog(this.redis, appId, source, line);
  }
}

export class RedisNudges implements Nudges {
  constructor(private readonly redis: Redis) {}

  async listen(channel: string, onNudge: () => void): Promise<() => void> {
    const subscriber = this.redis.duplicate();
    subscriber.on('message', () => onNudge());
    subscriber.on('error', () => undefined);
    try {
      await subscriber.subscribe(channel);
    } catch (err) {
      subscriber.disconnect();
      throw err;
    }
    return () => subscriber.disconnect();
  }
}
