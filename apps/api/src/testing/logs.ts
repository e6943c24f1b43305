import { appLogKey, tailLog } from '@paas/platform';
import type { TestApi } from './harness';

/** The `api` lines of an app's log, oldest first. */
export async function apiLogLines(api: TestApi, appId: string): Promise<string[]> {
  return (await tailLog(api.redis, appLogKey(appId), 1000)).filter((e) => e.source === 'api').map((e) => e.line);
}
