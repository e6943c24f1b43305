import { Module } from '@nestjs/common';
import { AppsController } from './apps.controller';
import { AppsService } from './apps.service';
import { MaintenanceController } from './maintenance.controller';

@Module({ controllers: [AppsController, MaintenanceController], providers: [AppsService], exports: [AppsService] })
export class AppsModule {}
