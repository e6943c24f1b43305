import { Logger } from '@nestjs/common';
import { writeAppLog } from '@paas/platform';
import type { Redis } from 'ioredis';

/**
 * One `app[api]` line in the app's log, as Heroku writes for releases, config changes and
 * scaling. The change itself is already committed: a Redis hiccup must not fail the request,
 * so a failed write is only reported.
 */
export async function logAppEvent(redis: Redis, appId: string, line: string): Promise<void> {
  await writeAppLog(redis, appId, 'api', line, {
    onError: (err) => new Logger('api').warn(`could not write to the log of app ${appId}: ${err.message}`),
  });
}
