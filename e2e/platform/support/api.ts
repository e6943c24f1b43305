/** The real api in this test process (REST, git receiver, build queue), with handles to its
 * database and Redis connections for assertions. */
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
/* eslint-disable @nx/enforce-module-boundaries -- the e2e drives the api in-process */
import type { ApiConfig } from '../../../apps/api/src/config';
import { DATA_SOURCE, REDIS } from '../../../apps/api/src/core/tokens';
import { startApi } from '../../../apps/api/src/server';
/* eslint-enable @nx/enforce-module-boundaries */

export interface PlatformApi {
  readonly app: INestApplication;
  readonly url: string;
  readonly dataSource: DataSource;
  readonly redis: Redis;
  close(): Promise<void>;
}

export async function startPlatformApi(config: ApiConfig): Promise<PlatformApi> {
  const { app, url } = await startApi(config);
  return {
    app,
    url,
    dataSource: app.get<DataSource>(DATA_SOURCE),
    redis: app.get<Redis>(REDIS),
    close: () => app.close(),
  };
}
