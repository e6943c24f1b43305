import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { METRICS_CONTENT_TYPE, answerMetrics } from '@paas/platform/metrics';
import { AdminOnly } from '../auth/decorators';
import { ApiMetrics } from './api-metrics';

/**
 * `GET /metrics` (beside `/api`, where Prometheus looks): admin tokens only. The counts are
 * the platform's, not one app's, so no app token may read them; an operator who would rather
 * not give Prometheus an admin token sets PAAS_API_METRICS_ADDR instead. Written by the shared
 * `answerMetrics` (Express would rewrite the content type's parameters).
 */
@ApiTags('health')
@ApiBearerAuth()
@Controller('metrics')
export class PrometheusController {
  constructor(@Inject(ApiMetrics) private readonly metrics: ApiMetrics) {}

  @Get()
  @AdminOnly()
  @ApiProduces(METRICS_CONTENT_TYPE)
  @ApiOkResponse({ description: 'Prometheus text format: paas_api_*, paas_instances, paas_nodes, paas_apps, ...' })
  text(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return answerMetrics(this.metrics.registry, req, res);
  }
}
