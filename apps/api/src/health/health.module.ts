import { Module } from '@nestjs/common';
import { ControlPlaneController } from './control-plane.controller';
import { HealthController } from './health.controller';

@Module({ controllers: [HealthController, ControlPlaneController] })
export class HealthModule {}
