import { Controller, Get, Inject, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ApiToken, App } from '@paas/platform';
import { CurrentApp, CurrentToken } from '../common/request';
import { ObjectBody } from '../common/validation';
import { ConfigVarsService } from './config-vars.service';

const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'string' },
  example: { DATABASE_URL: 'postgres://…' },
};

@ApiTags('config-vars')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/config-vars')
export class ConfigVarsController {
  constructor(@Inject(ConfigVarsService) private readonly configVars: ConfigVarsService) {}

  @Get()
  @ApiOkResponse({ schema: CONFIG_SCHEMA })
  get(@CurrentApp() app: App): Promise<Record<string, string>> {
    return this.configVars.get(app);
  }

  @Patch()
  @ApiBody({
    description: 'keys to set (strings of at most 32 KiB) or unset (null); a change makes a new release',
    schema: {
      type: 'object',
      additionalProperties: { type: 'string', nullable: true },
      example: { KEY: 'value', OLD: null },
    },
  })
  @ApiOkResponse({ schema: CONFIG_SCHEMA, description: 'the config after the change' })
  patch(
    @CurrentApp() app: App,
    @ObjectBody() body: Record<string, unknown>,
    @CurrentToken() token: ApiToken,
  ): Promise<Record<string, string>> {
    return this.configVars.patch(app, body, token);
  }
}
