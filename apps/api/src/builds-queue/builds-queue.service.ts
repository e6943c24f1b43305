import { type BeforeApplicationShutdown, Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { BUILDS_QUEUE, type BuildJobData, type BuildJobResult, QUEUE_PREFIX } from '@paas/platform';
import { type JobState, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { type BuildWorkerHandle, createBuildWorker } from './build-worker';
import type { BuildJob } from './platform-build';
import { queueConnection } from './connection';

/**
 * Retries cover lost workers and passing faults (Redis, the registry); a build that fails
 * because of the app is not retried (the worker marks it unrecoverable).
 */
export const BUILD_JOB_ATTEMPTS = 3;

/**
 * The `builds` queue: enqueue a build (job id = build id, so the same build is never queued
 * twice) and ask how its job stands. Runs the api's in-process workers when it has any.
 */
@Injectable()
export class BuildsQueueService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly queue: Queue<BuildJobData, BuildJobResult>;
  private worker: BuildWorkerHandle | undefined;

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    this.queue = new Queue<BuildJobData, BuildJobResult>(BUILDS_QUEUE, {
      connection: queueConnection(config.redisUrl, { ca: config.redisCa }),
      prefix: QUEUE_PREFIX,
    });
  }

  async onModuleInit(): Promise<void> {
    if (this.config.buildWorkers > 0) {
      this.worker = await createBuildWorker(
        this.config,
        { dataSource: this.dataSource, redis: this.redis },
        { concurrency: this.config.buildWorkers },
      );
    }
  }

  /** `createdBy`: who asked (a token's name), for the release and the app's log. */
  async enqueue(data: BuildJob): Promise<void> {
    await this.queue.add(BUILDS_QUEUE, data, {
      jobId: data.buildId,
      attempts: BUILD_JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
    });
  }

  /** `waiting`, `active`, `completed`, `failed`, … or `unknown` once the job is gone. */
  async state(buildId: string): Promise<JobState | 'unknown'> {
    return this.queue.getJobState(buildId);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
