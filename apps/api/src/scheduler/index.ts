export { type DeployOutcome, DeploysService, type WaitLiveOptions } from './deploys.service';
export { SchedulerService } from './scheduler.service';
export { SchedulerModule } from './scheduler.module';
