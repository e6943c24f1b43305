import { Controller, Delete, Get, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { ValidBody } from '../common/validation';
import { AddDrainDto, DrainView } from './drains.dto';
import { DrainsService } from './drains.service';

@ApiTags('drains')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/drains')
export class DrainsController {
  constructor(@Inject(DrainsService) private readonly drains: DrainsService) {}

  @Get()
  @ApiOkResponse({ type: DrainView, isArray: true })
  list(@CurrentApp() app: App): Promise<DrainView[]> {
    return this.drains.list(app);
  }

  @Post()
  @ApiBody({ type: AddDrainDto })
  @ApiCreatedResponse({ type: DrainView })
  add(@CurrentApp() app: App, @ValidBody(AddDrainDto) body: AddDrainDto): Promise<DrainView> {
    return this.drains.add(app, body.url);
  }

  @Delete(':drain')
  @ApiParam({ name: 'drain', type: String, description: "the drain's id, or its URL (URL-encoded)" })
  @ApiOkResponse({ type: DrainView })
  remove(@CurrentApp() app: App, @Param('drain') drain: string): Promise<DrainView> {
    return this.drains.remove(app, drain);
  }
}
