/**
 * Build workers: BullMQ workers on the `builds` queue running the build pipeline. The api
 * runs `buildWorkers` of them in-process (one BullMQ worker with that concurrency);
 * `startBuildWorker` runs them in a process of their own, with its own database and Redis
 * connections (`main.js worker`).
 *
 * A worker that dies mid-build (SIGKILL, OOM, power) stops renewing its job's lock; another
 * worker's stalled check then puts the job back in the queue and it runs again from the
 * start. `lockDurationMs` / `stalledIntervalMs` bound how long that takes (BullMQ's 30 s by
 * default; tests use a second or two).
 */
import { join } from 'node:path';
import { VERSION } from '@paas/config';
import { Builder } from '@paas/builder';
import { openEngine, runtimeRoot } from '@paas/engine';
import { ImageService, imageRoots } from '@paas/images';
import {
  BUILDS_QUEUE,
  type BuildJobData,
  type BuildJobResult,
  QUEUE_PREFIX,
  connectRedis,
  reportOutages,
  openDatabase,
} from '@paas/platform';
import { RegistryClient } from '@paas/registry';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { ApiConfig } from '../config';
import { queueConnection } from './connection';
import { platformPuller } from './base-image-puller';
import { type BuildEnvironment, failLostBuild, isAppBuildError, runBuild } from './platform-build';

export interface BuildWorkerTuning {
  /** Builds this worker runs at once (default 1). */
  readonly concurrency?: number;
  /** How long a job's lock lives without renewal: a dead worker's job waits this long at most. */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired. */
  readonly stalledIntervalMs?: number;
  /** How often one job may be recovered from a dead worker before it fails (default 2). */
  readonly maxStalledCount?: number;
}

export interface BuildWorkerHandle {
  readonly worker: Worker<BuildJobData, BuildJobResult>;
  /** Stops taking jobs, interrupts running builds (they are run again later) and closes. */
  close(): Promise<void>;
}

export interface WorkerConnections {
  readonly dataSource: DataSource;
  /** For the build log streams (not the queue: BullMQ makes its own connections). */
  readonly redis: Redis;
}

/**
 * The platform registry as the api's builder login (push, pull, delete) speaks to it: HTTPS off
 * loopback trusting the platform CA, plain only where listed. Build workers push release images
 * with it; the apps service deletes a destroyed app's.
 */
export function platformRegistryClient(config: ApiConfig): RegistryClient {
  return new RegistryClient(config.registry, {
    userAgent: `paas-build/${VERSION}`,
    insecure: config.insecureRegistries,
    trust: config.registryTrust(),
    ...(config.registryLogin ? { credentials: config.registryLogin } : {}),
  });
}

/** The engine side of builds on this node: image store, builder (and its cache), registry. */
export async function buildEnvironment(config: ApiConfig, connections: WorkerConnections): Promise<BuildEnvironment> {
  const root = config.paths.root;
  // push and pull alike: HTTPS off loopback trusting the platform CA, plain only where listed
  const transport = { insecure: config.insecureRegistries, trust: config.registryTrust() };
  const images = await ImageService.open(imageRoots(root));
  // the node's bridge (the agent on this host uses the same one): RUN steps and the release
  // command reach out through it, behind its walls; the builder shares the engine's images
  const engine = await openEngine(config.paths, config.engine, { images });
  const builder = await Builder.open({
    root,
    images,
    runtime: { runtime: config.engine.runtime, runtimeRoot: runtimeRoot(config.paths) },
    limits: config.buildLimits,
    ...(engine.sandboxes ? { network: engine.sandboxes } : {}),
    // RUN steps of apps in their ranges of the engine's pool (PAAS_BUILD_USERNS)
    usernsPool: engine.usernsPool(),
    // base images through the platform registry's pull-through cache (base-image-puller.ts)
    puller: platformPuller(
      images,
      config.registry,
      config.registryLogin ?? undefined,
      `paas-build/${VERSION}`,
      transport,
    ),
  });
  return {
    ...connections,
    images,
    builder,
    engine,
    registry: platformRegistryClient(config),
    workRoot: join(root, 'platform', 'builds'),
    timeoutMs: config.buildTimeoutMs,
    releaseMemory: config.buildLimits.memory,
    releaseUserns: config.tenantUserns,
    buildUserns: config.buildUserns,
  };
}

export async function createBuildWorker(
  config: ApiConfig,
  connections: WorkerConnections,
  tuning: BuildWorkerTuning = {},
): Promise<BuildWorkerHandle> {
  const env = await buildEnvironment(config, connections);
  const stopping = new AbortController();
  const process = async (job: Job<BuildJobData, BuildJobResult>): Promise<BuildJobResult> => {
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    // the job's own signal: what the build hangs on it goes away with the job
    const own = new AbortController();
    const stop = (): void => own.abort();
    stopping.signal.addEventListener('abort', stop, { once: true });
    try {
      return await runBuild(job.data, env, { final, signal: own.signal });
    } catch (err) {
      // the app's own failure: running it again gives the same answer
      if (!stopping.signal.aborted && isAppBuildError(err)) throw new UnrecoverableError((err as Error).message);
      throw err;
    } finally {
      stopping.signal.removeEventListener('abort', stop);
    }
  };
  const worker = new Worker<BuildJobData, BuildJobResult>(BUILDS_QUEUE, process, {
    connection: queueConnection(config.redisUrl, { ca: config.redisCa }),
    prefix: QUEUE_PREFIX,
    concurrency: tuning.concurrency ?? 1,
    lockDuration: tuning.lockDurationMs ?? config.buildLockMs,
    stalledInterval: tuning.stalledIntervalMs ?? config.buildStalledMs,
    maxStalledCount: tuning.maxStalledCount ?? 2,
  });
  worker.on('error', (err) => console.error(`build worker: ${err.message}`));
  // a job the queue gave up on without the pipeline settling it (it stalled too often)
  worker.on('failed', (job, err) => {
    if (!job) return;
    void job
      .getState()
      .then((state) =>
        state === 'failed'
          ? failLostBuild(env.dataSource, env.redis, job.data.buildId, `The build's worker was lost: ${err.message}`)
          : false,
      )
      .catch((e: unknown) =>
        console.error(`build worker: settling build ${job.data.buildId}: ${(e as Error).message}`),
      );
  });
  await worker.waitUntilReady();
  return {
    worker,
    close: async () => {
      stopping.abort();
      await worker.close();
    },
  };
}

/** A worker process of its own: opens the database and Redis, closes them on `close`. */
export async function startBuildWorker(config: ApiConfig, tuning: BuildWorkerTuning = {}): Promise<BuildWorkerHandle> {
  const dataSource = await openDatabase({ url: config.databaseUrl, platformDir: join(config.paths.root, 'platform') });
  const redis = connectRedis(config.redisUrl, {}, { ca: config.redisCa });
  reportOutages(redis, (line) => console.error(`build worker: ${line}`));
  try {
    const handle = await createBuildWorker(
      config,
      { dataSource, redis },
      { concurrency: Math.max(1, config.buildWorkers), ...tuning },
    );
    return {
      worker: handle.worker,
      close: async () => {
        await handle.close();
        redis.disconnect();
        await dataSource.destroy();
      },
    };
  } catch (err) {
    redis.disconnect();
    await dataSource.destroy();
    throw err;
  }
}
