export { type DeployOutcome, DeploysService, type WaitLiveOptions } from './deploys.service';
export { SCHEDULER_KICK_CHANNEL, SchedulerService } from './scheduler.service';
export { SchedulerModule } from './scheduler.module';
