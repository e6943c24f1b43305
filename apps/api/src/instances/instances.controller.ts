import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { InstanceView, RestartDto } from './instances.dto';
import { InstancesService } from './instances.service';

/** The app's instances as the scheduler recorded them, and the restart and stop of some. */
@ApiTags('instances')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/instances')
export class InstancesController {
  constructor(@Inject(InstancesService) private readonly instances: InstancesService) {}

  @Get()
  @ApiOkResponse({ type: InstanceView, isArray: true, description: 'by type and number' })
  list(@CurrentApp() app: App): Promise<InstanceView[]> {
    return this.instances.list(app);
  }

  @Post('restart')
  @HttpCode(202)
  @ApiBody({ type: RestartDto })
  @ApiAcceptedResponse({
    type: InstanceView,
    isArray: true,
    description: 'the instances to be replaced, each once its replacement serves',
  })
  restart(
    @CurrentApp() app: App,
    @ValidBody(RestartDto) body: RestartDto,
    @CurrentToken() token: ApiToken,
  ): Promise<InstanceView[]> {
    return this.instances.restart(app, body.process, token.name);
  }

  @Post(':name/stop')
  @HttpCode(202)
  @ApiParam({ name: 'name', type: String, example: 'web.2' })
  @ApiAcceptedResponse({ type: InstanceView, description: 'leaving; its formation brings a new one' })
  stop(@CurrentApp() app: App, @Param('name') name: string, @CurrentToken() token: ApiToken): Promise<InstanceView> {
    return this.instances.stop(app, name, token.name);
  }
}
