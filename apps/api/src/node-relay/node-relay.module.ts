import { Module } from '@nestjs/common';
import { NodeEventsService } from './node-events.service';
import { NodeLogsService } from './node-logs.service';
import { NodeRelayController } from './node-relay.controller';

@Module({ controllers: [NodeRelayController], providers: [NodeLogsService, NodeEventsService] })
export class NodeRelayModule {}
