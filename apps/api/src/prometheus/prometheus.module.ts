import { Module } from '@nestjs/common';
import { ApiMetrics } from './api-metrics';
import { PrometheusController } from './prometheus.controller';

@Module({ controllers: [PrometheusController], providers: [ApiMetrics], exports: [ApiMetrics] })
export class PrometheusModule {}
