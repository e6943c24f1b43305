import { Module } from '@nestjs/common';
import { AddonsController, AppAddonsController } from './addons.controller';
import { AddonsService } from './addons.service';

@Module({ controllers: [AppAddonsController, AddonsController], providers: [AddonsService], exports: [AddonsService] })
export class AddonsModule {}
