import { Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody, ValidQuery } from '../common/validation';
import { AddonView, AttachAddonDto, CreateAddonDto, DestroyAddonQueryDto } from './addons.dto';
import { AddonsService } from './addons.service';

const APP_PARAM = { name: 'app', type: String, description: 'app name or id' };
const NAME_PARAM = { name: 'name', type: String, example: 'postgres-amber-12345' };

/** An app's add-ons: made for it, attached to it, detached from it (the `:app` is checked by the guard). */
@ApiTags('addons')
@ApiBearerAuth()
@ApiParam(APP_PARAM)
@Controller('apps/:app/addons')
export class AppAddonsController {
  constructor(@Inject(AddonsService) private readonly addons: AddonsService) {}

  @Get()
  @ApiOkResponse({ type: AddonView, isArray: true, description: 'the add-ons attached to the app' })
  list(@CurrentApp() app: App): Promise<AddonView[]> {
    return this.addons.listOfApp(app);
  }

  @Post()
  @ApiBody({ type: CreateAddonDto })
  @ApiCreatedResponse({
    type: AddonView,
    description: 'placed on a node and attached to the app: its config var AS_URL is set in a new release',
  })
  create(
    @CurrentApp() app: App,
    @ValidBody(CreateAddonDto) body: CreateAddonDto,
    @CurrentToken() token: ApiToken,
  ): Promise<AddonView> {
    return this.addons.create(app, body, token);
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiParam(NAME_PARAM)
  @ApiNoContentResponse({ description: "detached: the app's config var is unset in a new release" })
  async detach(@CurrentApp() app: App, @Param('name') name: string, @CurrentToken() token: ApiToken): Promise<void> {
    await this.addons.detach(app, name, token);
  }
}

/** Add-ons by name: a scoped token sees those attached to its apps. */
@ApiTags('addons')
@ApiBearerAuth()
@Controller('addons')
export class AddonsController {
  constructor(@Inject(AddonsService) private readonly addons: AddonsService) {}

  @Get()
  @ApiOkResponse({ type: AddonView, isArray: true, description: 'every add-on the token sees, by name' })
  list(@CurrentToken() token: ApiToken): Promise<AddonView[]> {
    return this.addons.list(token);
  }

  @Get(':name')
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: AddonView })
  info(@Param('name') name: string, @CurrentToken() token: ApiToken): Promise<AddonView> {
    return this.addons.info(name, token);
  }

  @Post(':name/attachments')
  @ApiParam(NAME_PARAM)
  @ApiBody({ type: AttachAddonDto })
  @ApiCreatedResponse({ type: AddonView, description: "attached: the app's config var AS_URL is set in a new release" })
  attach(
    @Param('name') name: string,
    @ValidBody(AttachAddonDto) body: AttachAddonDto,
    @CurrentToken() token: ApiToken,
  ): Promise<AddonView> {
    return this.addons.attach(name, body, token);
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiParam(NAME_PARAM)
  @ApiNoContentResponse({
    description:
      "destroyed: every attached app's config var is unset in a new release, its volume removed; its backups stay",
  })
  async destroy(
    @Param('name') name: string,
    @ValidQuery(DestroyAddonQueryDto) query: DestroyAddonQueryDto,
    @CurrentToken() token: ApiToken,
  ): Promise<void> {
    await this.addons.destroy(name, query.confirm, token);
  }
}
