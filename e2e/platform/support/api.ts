/** The real api in this test process (REST, git receiver, build queue), with handles to its
 * database and Redis connections for assertions. */
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { type ApiConfig, DATA_SOURCE, REDIS, startApi } from '@paas/api/testing';

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
