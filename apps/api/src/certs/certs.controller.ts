import { Controller, Delete, Get, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { ValidBody } from '../common/validation';
import { AddCertDto, AddedCertView, CertView } from './certs.dto';
import { CertsService } from './certs.service';

@ApiTags('certs')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/certs')
export class CertsController {
  constructor(@Inject(CertsService) private readonly certs: CertsService) {}

  @Get()
  @ApiOkResponse({ type: CertView, isArray: true })
  list(@CurrentApp() app: App): Promise<CertView[]> {
    return this.certs.list(app);
  }

  @Post()
  @ApiBody({ type: AddCertDto })
  @ApiCreatedResponse({ type: AddedCertView })
  add(@CurrentApp() app: App, @ValidBody(AddCertDto) body: AddCertDto): Promise<AddedCertView> {
    return this.certs.add(app, body);
  }

  @Get(':id')
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiOkResponse({ type: CertView })
  get(@CurrentApp() app: App, @Param('id') id: string): Promise<CertView> {
    return this.certs.get(app, id);
  }

  @Delete(':id')
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiOkResponse({ type: CertView })
  remove(@CurrentApp() app: App, @Param('id') id: string): Promise<CertView> {
    return this.certs.remove(app, id);
  }
}
