import { Controller, Get, Inject, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { App } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { logAppEvent } from '../common/app-log';
import { CurrentApp } from '../common/request';
import { ValidBody } from '../common/validation';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { Redis } from 'ioredis';
import { HttpsSettingsDto, HttpsView } from './https.dto';

/**
 * An app's HTTPS policy on the routers (`paas https`), off by default: the scheduler's route
 * step writes it into the app's route (scheduler/pass.ts), so a change is kicked to it.
 */
@ApiTags('certs')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/https')
export class HttpsController {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  @Get()
  @ApiOkResponse({ type: HttpsView })
  get(@CurrentApp() app: App): HttpsView {
    return { httpsRedirect: app.httpsRedirect, hstsMaxAge: app.hstsMaxAge };
  }

  @Patch()
  @ApiBody({ type: HttpsSettingsDto })
  @ApiOkResponse({ type: HttpsView })
  async set(@CurrentApp() app: App, @ValidBody(HttpsSettingsDto) body: HttpsSettingsDto): Promise<HttpsView> {
    const next: HttpsView = {
      httpsRedirect: body.httpsRedirect ?? app.httpsRedirect,
      hstsMaxAge: body.hstsMaxAge === undefined ? app.hstsMaxAge : body.hstsMaxAge,
    };
    await this.dataSource.manager.update(App, { id: app.id }, next);
    this.scheduler.kick();
    const hsts = next.hstsMaxAge === null ? 'off' : `max-age=${next.hstsMaxAge}`;
    await logAppEvent(
      this.redis,
      app.id,
      `HTTPS settings: redirect ${next.httpsRedirect ? 'on' : 'off'}, HSTS ${hsts}`,
    );
    return next;
  }
}
