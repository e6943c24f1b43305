import { Module } from '@nestjs/common';
import { BuildsQueueService } from './builds-queue.service';

/** The build queue (and the api's in-process build workers). Needs the global CoreModule. */
@Module({ providers: [BuildsQueueService], exports: [BuildsQueueService] })
export class BuildsQueueModule {}
