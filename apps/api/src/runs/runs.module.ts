import { Module } from '@nestjs/common';
import { engineProvider } from './engine.provider';
import { RunsController } from './runs.controller';
import { RunsService } from './runs.service';

@Module({ controllers: [RunsController], providers: [engineProvider, RunsService] })
export class RunsModule {}
