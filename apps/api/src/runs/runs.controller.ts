import { Controller, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import type { ServerResponse } from 'node:http';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { RunDto } from './runs.dto';
import { RunsService } from './runs.service';
import { TTY_PROTOCOL } from '@paas/engine';
import { ApiError } from '../common/api-error';

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
    // Node gives a request with Upgrade to the server's upgrade listener (terminal.ts), never here
    if (body.tty)
      throw ApiError.invalidField(
        'tty',
        'upgrade',
        `"tty": true needs Connection: Upgrade and Upgrade: ${TTY_PROTOCOL}`,
      );
    return this.runs.run(app, body.command, body.env ?? {}, token, res, body.addon);
  }
}
