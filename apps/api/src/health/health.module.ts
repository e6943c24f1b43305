import { Module } from '@nestjs/common';
import { ControlPlaneController, HealthController } from './health.controller';

@Module({ controllers: [HealthController, ControlPlaneController] })
export class HealthModule {}
