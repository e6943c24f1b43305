export { BuildsQueueModule } from './builds-queue.module';
export { BUILD_JOB_ATTEMPTS, BuildsQueueService } from './builds-queue.service';
export {
  type BuildWorkerHandle,
  type BuildWorkerTuning,
  buildEnvironment,
  createBuildWorker,
  startBuildWorker,
} from './build-worker';
