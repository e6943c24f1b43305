import { Module } from '@nestjs/common';
import { AppsController } from './apps.controller';
import { AppsService } from './apps.service';
import { MaintenanceController } from './maintenance.controller';
import { releaseImagesProvider } from './release-images.provider';

@Module({
  controllers: [AppsController, MaintenanceController],
  providers: [AppsService, releaseImagesProvider],
  exports: [AppsService],
})
export class AppsModule {}
