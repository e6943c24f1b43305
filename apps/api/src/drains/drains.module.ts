import { Module } from '@nestjs/common';
import { DrainsController } from './drains.controller';
import { DrainsForwarderService } from './drains-forwarder.service';
import { DrainsService } from './drains.service';

@Module({ controllers: [DrainsController], providers: [DrainsService, DrainsForwarderService] })
export class DrainsModule {}
