import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { AppMetricsView } from './metrics.dto';
import { MetricsService } from './metrics.service';

/**
 * `GET /api/apps/:app/metrics`: the app's request rate (from the routers) and instance
 * counts, now and over the last minutes, for the dashboard's charts. Scoped like every `:app`
 * route by the global guard.
 */
@ApiTags('apps')
@ApiBearerAuth()
@Controller('apps/:app/metrics')
export class MetricsController {
  constructor(@Inject(MetricsService) private readonly metrics: MetricsService) {}

  @Get()
  @ApiOkResponse({
    type: AppMetricsView,
    description: 'requests/s and instances, now and sampled every 2 s over the last 10 minutes',
  })
  get(@CurrentApp() app: App): Promise<AppMetricsView> {
    return this.metrics.forApp(app);
  }
}
