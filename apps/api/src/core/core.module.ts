import { type DynamicModule, Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { connectRedis, openDatabase, reportOutages } from '@paas/platform';
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from './tokens';

/**
 * The api's connections: the platform database (migrated on open) and Redis. Global, so
 * every feature module injects them by token; closed when the application shuts down.
 */
@Global()
@Module({})
export class CoreModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  static register(config: ApiConfig): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: API_CONFIG, useValue: config },
        {
          provide: DATA_SOURCE,
          useFactory: () => openDatabase({ url: config.databaseUrl, platformDir: join(config.paths.root, 'platform') }),
        },
        {
          provide: REDIS,
          useFactory: async () => {
            const redis = connectRedis(config.redisUrl, { lazyConnect: true }, { ca: config.redisCa });
            await redis.connect();
            const logger = new Logger('redis');
            reportOutages(redis, (line) => logger.warn(line));
            return redis;
          },
        },
      ],
      exports: [API_CONFIG, DATA_SOURCE, REDIS],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
