import { Controller, Delete, Get, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { ValidBody } from '../common/validation';
import { AddDomainDto, DomainView } from './domains.dto';
import { DomainsService } from './domains.service';

@ApiTags('domains')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/domains')
export class DomainsController {
  constructor(@Inject(DomainsService) private readonly domains: DomainsService) {}

  @Get()
  @ApiOkResponse({ type: DomainView, isArray: true })
  list(@CurrentApp() app: App): Promise<DomainView[]> {
    return this.domains.list(app);
  }

  @Post()
  @ApiBody({ type: AddDomainDto })
  @ApiCreatedResponse({ type: DomainView })
  add(@CurrentApp() app: App, @ValidBody(AddDomainDto) body: AddDomainDto): Promise<DomainView> {
    return this.domains.add(app, body.hostname);
  }

  @Delete(':hostname')
  @ApiParam({ name: 'hostname', type: String, example: 'www.example.com' })
  @ApiOkResponse({ type: DomainView })
  remove(@CurrentApp() app: App, @Param('hostname') hostname: string): Promise<DomainView> {
    return this.domains.remove(app, hostname);
  }
}
