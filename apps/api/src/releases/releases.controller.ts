import { Controller, Get, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { ReleaseView, RollbackDto } from './releases.dto';
import { ReleasesService } from './releases.service';

@ApiTags('releases')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/releases')
export class ReleasesController {
  constructor(@Inject(ReleasesService) private readonly releases: ReleasesService) {}

  @Get()
  @ApiOkResponse({ type: ReleaseView, isArray: true, description: 'newest first' })
  list(@CurrentApp() app: App): Promise<ReleaseView[]> {
    return this.releases.list(app);
  }

  @Get(':version')
  @ApiParam({ name: 'version', type: String, description: '`12`, `v12` or the release id' })
  @ApiOkResponse({ type: ReleaseView })
  get(@CurrentApp() app: App, @Param('version') version: string): Promise<ReleaseView> {
    return this.releases.get(app, version);
  }

  @Post()
  @ApiBody({ type: RollbackDto })
  @ApiCreatedResponse({ type: ReleaseView, description: "the new release, with the old one's image and config" })
  rollback(
    @CurrentApp() app: App,
    @ValidBody(RollbackDto) body: RollbackDto,
    @CurrentToken() token: ApiToken,
  ): Promise<ReleaseView> {
    return this.releases.rollback(app, body.release, token);
  }
}
