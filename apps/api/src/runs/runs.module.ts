import { Module } from '@nestjs/common';
import { engineProvider } from './engine.provider';
import { RunsController } from './runs.controller';
import { RunsService } from './runs.service';
import { RunTerminals } from './terminal';

@Module({ controllers: [RunsController], providers: [engineProvider, RunsService, RunTerminals] })
export class RunsModule {}
