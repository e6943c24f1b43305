import { Global, Module } from '@nestjs/common';
import { DeploysService } from './deploys.service';
import { SchedulerService } from './scheduler.service';

/**
 * The scheduler and deploy watching. Global: the formation (scale), the nodes (heartbeats)
 * and the git receiver (wait for a push's release to go live) all use it.
 */
@Global()
@Module({ providers: [SchedulerService, DeploysService], exports: [SchedulerService, DeploysService] })
export class SchedulerModule {}
