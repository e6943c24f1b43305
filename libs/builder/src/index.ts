/**
 * @paas/builder — executes Dockerfiles with a step cache, in the classic `docker build` way:
 * every step is an image, a step is reused when its parent, its substituted instruction,
 * the build args in effect (RUN) and the content of what it copies are the same.
 */
export {
  Builder,
  type BuildOptions,
  type BuildResult,
  type BuilderOptions,
  type StepUsernsPool,
  buildStepsRootOf,
} from './builder';
export { type ImagePuller, type PullPolicy } from './base-images';
export { type NetworkMode, type StepNetwork, type StepSandbox } from './step-network';
export { type CacheEntry } from './build-cache';
export { BuildContext, type ContextEntry, type ScanProgress } from './build-context';
export { type StepKeyInput } from './cache-key';
export { BuildAbortedError, BuildError, RunFailedError } from './errors';
export { type BuildOutput, humanSize } from './output';
export { type PruneOptions, type PruneResult, pruneBuildCache } from './prune';
export type { RuntimeBinaries } from './run-container';
