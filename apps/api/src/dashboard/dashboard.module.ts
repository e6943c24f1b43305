import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { MetricsController } from './metrics.controller';
import { DEFAULT_METRICS_OPTIONS, METRICS_OPTIONS, MetricsService } from './metrics.service';
import { type Handler, dashboardDir, dashboardHandler } from './static';

interface UsesHandlers {
  use(handler: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void): unknown;
}

/**
 * The web dashboard (apps/dashboard) at `/`, and the metrics route its charts read. The
 * static handler goes onto the HTTP server in onModuleInit, as the git receiver's does: after
 * Nest's routes and before its 404 handler, so `/api/...` (known or not) and `/git` behave
 * exactly as without it. While dist/apps/dashboard/index.html does not exist, every request
 * goes on to Nest as before.
 */
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, { provide: METRICS_OPTIONS, useValue: DEFAULT_METRICS_OPTIONS }],
})
export class DashboardModule implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const server = this.adapterHost.httpAdapter?.getInstance() as UsesHandlers | undefined;
    const dir = dashboardDir();
    if (typeof server?.use !== 'function' || dir === null) return;
    const handler: Handler = dashboardHandler(dir);
    server.use(handler);
  }
}
