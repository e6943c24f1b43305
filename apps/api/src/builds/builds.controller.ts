import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import type { ServerResponse } from 'node:http';
import { EventStream } from '../common/event-stream';
import { CurrentApp } from '../common/request';
import { BuildView } from './builds.dto';
import { BuildsService } from './builds.service';

@ApiTags('builds')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/builds')
export class BuildsController {
  constructor(@Inject(BuildsService) private readonly builds: BuildsService) {}

  @Get()
  @ApiOkResponse({ type: BuildView, isArray: true, description: 'newest first, without output' })
  list(@CurrentApp() app: App): Promise<BuildView[]> {
    return this.builds.list(app);
  }

  @Get(':id')
  @ApiParam({ name: 'id', type: String, description: 'build id or number' })
  @ApiOkResponse({ type: BuildView })
  get(@CurrentApp() app: App, @Param('id') id: string): Promise<BuildView> {
    return this.builds.get(app, id);
  }

  @Get(':id/log')
  @ApiParam({ name: 'id', type: String, description: 'build id or number' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: '`data: <line>` events, then `event: end` with `{"status"}`' })
  async log(@CurrentApp() app: App, @Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    const build = await this.builds.find(app, id);
    const events = new EventStream(res);
    try {
      await this.builds.streamLog(build, events);
    } finally {
      events.end();
    }
  }
}
