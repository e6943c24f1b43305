import { type DynamicModule, Module } from '@nestjs/common';
import { API_CONFIG, type ApiConfig } from './config';
import { HealthModule } from './health/health.module';

@Module({})
export class AppModule {
  static register(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [HealthModule],
      providers: [{ provide: API_CONFIG, useValue: config }],
      exports: [API_CONFIG],
    };
  }
}
