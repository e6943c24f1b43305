import { appLogKey, tailLog } from '@paas/platform';
import type { TestApi } from './harness';

/** The lines of one source (default `api`) in an app's log, oldest first. */
export async function apiLogLines(api: TestApi, appId: string, source = 'api'): Promise<string[]> {
  return (await tailLog(api.redis, appLogKey(appId), 1000)).filter((e) => e.source === source).map((e) => e.line);
}
