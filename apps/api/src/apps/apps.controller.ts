import { Controller, Delete, Get, Inject, Patch, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { type ApiRequest, CurrentApp, CurrentToken, baseUrl } from '../common/request';
import { ValidBody } from '../common/validation';
import { AppNameDto, AppView } from './apps.dto';
import { AppsService } from './apps.service';

@ApiTags('apps')
@ApiBearerAuth()
@Controller('apps')
export class AppsController {
  constructor(@Inject(AppsService) private readonly apps: AppsService) {}

  @Get()
  @ApiOkResponse({ type: AppView, isArray: true })
  async list(@CurrentToken() token: ApiToken, @Req() req: ApiRequest): Promise<AppView[]> {
    const base = baseUrl(req);
    return Promise.all((await this.apps.list(token)).map((app) => this.apps.view(app, base)));
  }

  @Post()
  @ApiBody({ type: AppNameDto })
  @ApiCreatedResponse({ type: AppView })
  async create(
    @ValidBody(AppNameDto) body: AppNameDto,
    @CurrentToken() token: ApiToken,
    @Req() req: ApiRequest,
  ): Promise<AppView> {
    return this.apps.view(await this.apps.create(body.name, token), baseUrl(req));
  }

  @Get(':app')
  @ApiParam({ name: 'app', type: String, description: 'app name or id' })
  @ApiOkResponse({ type: AppView })
  async get(@CurrentApp() app: App, @Req() req: ApiRequest): Promise<AppView> {
    return this.apps.view(app, baseUrl(req));
  }

  @Patch(':app')
  @ApiParam({ name: 'app', type: String, description: 'app name or id' })
  @ApiBody({ type: AppNameDto, description: 'a new name' })
  @ApiOkResponse({ type: AppView })
  async rename(
    @CurrentApp() app: App,
    @ValidBody(AppNameDto) body: AppNameDto,
    @Req() req: ApiRequest,
  ): Promise<AppView> {
    return this.apps.view(await this.apps.rename(app, body.name), baseUrl(req));
  }

  @Delete(':app')
  @ApiParam({ name: 'app', type: String, description: 'app name or id' })
  @ApiOkResponse({
    type: AppView,
    description: 'the deleted app, with its config, builds, releases, formation, domains, certificates and repository',
  })
  async remove(@CurrentApp() app: App, @Req() req: ApiRequest): Promise<AppView> {
    const view = await this.apps.view(app, baseUrl(req));
    await this.apps.remove(app);
    return view;
  }
}
