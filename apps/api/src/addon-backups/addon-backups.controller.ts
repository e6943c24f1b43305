import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { ApiToken } from '@paas/platform';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { CurrentToken } from '../common/request';
import { ValidBody } from '../common/validation';
import { BackupScheduleDto, BackupScheduleView, BackupView, RestoreBackupDto, RestoreView } from './addon-backups.dto';
import { AddonBackupsService } from './addon-backups.service';

@ApiTags('backups')
@ApiBearerAuth()
@Controller()
export class AddonBackupsController {
  constructor(@Inject(AddonBackupsService) private readonly backups: AddonBackupsService) {}

  @Get('addons/:name/backups')
  @ApiParam({ name: 'name', type: String, description: 'add-on name (also of a destroyed one whose backups are kept)' })
  @ApiOkResponse({ type: BackupView, isArray: true, description: 'oldest first' })
  list(@CurrentToken() token: ApiToken, @Param('name') name: string): Promise<BackupView[]> {
    return this.backups.list(token, name);
  }

  @Post('addons/:name/backups')
  @HttpCode(202)
  @ApiParam({ name: 'name', type: String, description: 'postgres add-on name' })
  @ApiAcceptedResponse({ type: BackupView, description: '`running`; it goes on in the background' })
  capture(@CurrentToken() token: ApiToken, @Param('name') name: string): Promise<BackupView> {
    return this.backups.capture(token, name);
  }

  @Put('addons/:name/backups/schedule')
  @ApiParam({ name: 'name', type: String, description: 'postgres add-on name' })
  @ApiBody({ type: BackupScheduleDto })
  @ApiOkResponse({ type: BackupScheduleView })
  schedule(
    @CurrentToken() token: ApiToken,
    @Param('name') name: string,
    @ValidBody(BackupScheduleDto) body: BackupScheduleDto,
  ): Promise<BackupScheduleView> {
    return this.backups.schedule(token, name, body.hour);
  }

  @Post('addons/:name/restore')
  @HttpCode(200)
  @ApiParam({ name: 'name', type: String, description: 'postgres add-on to restore into' })
  @ApiBody({ type: RestoreBackupDto })
  @ApiOkResponse({ type: RestoreView, description: 'once pg_restore is done' })
  restore(
    @CurrentToken() token: ApiToken,
    @Param('name') name: string,
    @ValidBody(RestoreBackupDto) body: RestoreBackupDto,
  ): Promise<RestoreView> {
    return this.backups.restore(token, name, body.backup, body.confirm);
  }

  @Get('backups/:id/download')
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: "the dump in pg_dump's custom format (pg_restore reads it)" })
  async download(@CurrentToken() token: ApiToken, @Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    const { backup, stream } = await this.backups.download(token, id);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(backup.size),
      'Content-Disposition': `attachment; filename="${backup.addon}-${backup.name}.dump"`,
    });
    // a failure half way can only cut the answer short: the length tells the client
    await pipeline(stream, res).catch(() => res.destroy());
  }

  @Delete('backups/:id')
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiOkResponse({ type: BackupView })
  remove(@CurrentToken() token: ApiToken, @Param('id') id: string): Promise<BackupView> {
    return this.backups.remove(token, id);
  }
}
