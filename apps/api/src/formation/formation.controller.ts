import { Controller, Delete, Get, Inject, Param, Patch, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { type ApiToken, type App, PROCESS_TYPE, PROCESS_TYPE_RULE } from '@paas/platform';
import { ApiError } from '../common/api-error';
import { CurrentApp, CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { AutoscaleDto, FormationBatchDto, FormationChangeDto, FormationView } from './formation.dto';
import { FormationService } from './formation.service';

@ApiTags('formation')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/formation')
export class FormationController {
  constructor(@Inject(FormationService) private readonly formation: FormationService) {}

  @Get()
  @ApiOkResponse({ type: FormationView, isArray: true })
  list(@CurrentApp() app: App): Promise<FormationView[]> {
    return this.formation.list(app);
  }

  @Patch()
  @ApiBody({ type: FormationBatchDto })
  @ApiOkResponse({ type: FormationView, isArray: true, description: 'the whole formation after the change' })
  batch(
    @CurrentApp() app: App,
    @ValidBody(FormationBatchDto) body: FormationBatchDto,
    @CurrentToken() token: ApiToken,
  ): Promise<FormationView[]> {
    return this.formation.update(app, body.updates, token);
  }

  @Get(':type')
  @ApiParam({ name: 'type', type: String, example: 'web' })
  @ApiOkResponse({ type: FormationView })
  get(@CurrentApp() app: App, @Param('type') type: string): Promise<FormationView> {
    return this.formation.get(app, type);
  }

  @Patch(':type')
  @ApiParam({ name: 'type', type: String, example: 'web' })
  @ApiBody({ type: FormationChangeDto })
  @ApiOkResponse({ type: FormationView })
  async change(
    @CurrentApp() app: App,
    @Param('type') type: string,
    @ValidBody(FormationChangeDto) body: FormationChangeDto,
    @CurrentToken() token: ApiToken,
  ): Promise<FormationView> {
    checkType(type);
    await this.formation.update(app, [{ ...body, type }], token);
    return this.formation.get(app, type);
  }

  @Put(':type/autoscale')
  @ApiParam({ name: 'type', type: String, example: 'web' })
  @ApiBody({ type: AutoscaleDto })
  @ApiOkResponse({ type: FormationView })
  async enableAutoscale(
    @CurrentApp() app: App,
    @Param('type') type: string,
    @ValidBody(AutoscaleDto) body: AutoscaleDto,
    @CurrentToken() token: ApiToken,
  ): Promise<FormationView> {
    checkType(type);
    await this.formation.autoscale(app, type, body, token);
    return this.formation.get(app, type);
  }

  @Delete(':type/autoscale')
  @ApiParam({ name: 'type', type: String, example: 'web' })
  @ApiOkResponse({ type: FormationView, description: 'autoscale off; the quantity stays as it is' })
  async disableAutoscale(
    @CurrentApp() app: App,
    @Param('type') type: string,
    @CurrentToken() token: ApiToken,
  ): Promise<FormationView> {
    checkType(type);
    await this.formation.autoscale(app, type, null, token);
    return this.formation.get(app, type);
  }
}

function checkType(type: string): void {
  if (!PROCESS_TYPE.test(type)) throw ApiError.invalidField('type', 'matches', `type must be ${PROCESS_TYPE_RULE}`);
}
