import { Module } from '@nestjs/common';
import { AddonBackupsController } from './addon-backups.controller';
import { AddonBackupsService } from './addon-backups.service';

/** Backups of PostgreSQL add-ons (`pg:backups`), and their daily schedule. */
@Module({ controllers: [AddonBackupsController], providers: [AddonBackupsService] })
export class AddonBackupsModule {}
