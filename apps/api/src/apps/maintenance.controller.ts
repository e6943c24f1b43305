import { Controller, Get, Inject, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { AppsService } from './apps.service';
import { MaintenanceDto, MaintenanceView } from './maintenance.dto';

/**
 * An app's maintenance mode (`paas maintenance:on|off`): a flag of the app that the scheduler's
 * route step writes into its route (scheduler/pass.ts), where the routers act on it. Nothing
 * else changes: no release, no restart.
 */
@ApiTags('apps')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/maintenance')
export class MaintenanceController {
  constructor(@Inject(AppsService) private readonly apps: AppsService) {}

  @Get()
  @ApiOkResponse({ type: MaintenanceView, description: '`changed` is always false here' })
  get(@CurrentApp() app: App): MaintenanceView {
    return { maintenance: app.maintenance, changed: false };
  }

  @Patch()
  @ApiBody({ type: MaintenanceDto })
  @ApiOkResponse({ type: MaintenanceView })
  async set(
    @CurrentApp() app: App,
    @ValidBody(MaintenanceDto) body: MaintenanceDto,
    @CurrentToken() token: ApiToken,
  ): Promise<MaintenanceView> {
    const changed = await this.apps.setMaintenance(app, body.maintenance, token);
    return { maintenance: body.maintenance, changed };
  }
}
