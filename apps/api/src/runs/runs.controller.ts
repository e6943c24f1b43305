import { Controller, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import type { ServerResponse } from 'node:http';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { RunDto } from './runs.dto';
import { RunsService } from './runs.service';

@ApiTags('runs')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/runs')
export class RunsController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  @Post()
  @ApiBody({ type: RunDto })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'the output as it comes, then a last line `paas-exit-status: <code>`' })
  run(
    @CurrentApp() app: App,
    @ValidBody(RunDto) body: RunDto,
    @CurrentToken() token: ApiToken,
    @Res() res: ServerResponse,
  ): Promise<void> {
    return this.runs.run(app, body.command, body.env ?? {}, token, res, body.addon);
  }
}
