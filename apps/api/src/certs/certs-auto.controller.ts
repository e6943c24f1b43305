import { Controller, Delete, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { CertsAutoView } from './certs-auto.dto';
import { CertsAutoService } from './certs-auto.service';

/**
 * Automatic certificates of an app (`paas certs:auto`). Registered before CertsController
 * (certs.module.ts), whose `:id` routes would otherwise take `auto` for a certificate id.
 */
@ApiTags('certs')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/certs/auto')
export class CertsAutoController {
  constructor(@Inject(CertsAutoService) private readonly auto: CertsAutoService) {}

  @Get()
  @ApiOkResponse({ type: CertsAutoView, description: "whether it is on, and each custom domain's state" })
  status(@CurrentApp() app: App): Promise<CertsAutoView> {
    return this.auto.status(app);
  }

  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: CertsAutoView })
  @ApiUnprocessableEntityResponse({ description: 'PAAS_ACME_DIRECTORY is not set on the api' })
  enable(@CurrentApp() app: App): Promise<CertsAutoView> {
    return this.auto.enable(app);
  }

  @Delete()
  @ApiOkResponse({ type: CertsAutoView, description: 'certificates obtained keep serving until they expire' })
  disable(@CurrentApp() app: App): Promise<CertsAutoView> {
    return this.auto.disable(app);
  }
}
