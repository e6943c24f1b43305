import { Logger } from '@nestjs/common';
import { APP_LOG_MAX, QUEUE_PREFIX, appendLog, appLogKey } from '@paas/platform';
import type { Redis } from 'ioredis';

/** The Redis key prefix of the platform's log streams: the build worker writes under the queues' own. */
export const LOG_PREFIX = QUEUE_PREFIX;

/**
 * One `app[api]` line in the app's log, as Heroku writes for releases, config changes and
 * scaling. The change itself is already committed: a Redis hiccup must not fail the request,
 * so a failed write is only reported.
 */
export async function logAppEvent(redis: Redis, appId: string, line: string): Promise<void> {
  try {
    await appendLog(redis, appLogKey(LOG_PREFIX, appId), 'api', line, APP_LOG_MAX);
  } catch (err) {
    new Logger('api').warn(
      `could not write to the log of app ${appId}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
