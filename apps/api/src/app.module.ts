import { type DynamicModule, Module } from '@nestjs/common';
import type { ApiConfig } from './config';
import { CoreModule } from './core/core.module';
import { HealthModule } from './health/health.module';

@Module({})
export class AppModule {
  static register(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.register(config), HealthModule],
    };
  }
}
