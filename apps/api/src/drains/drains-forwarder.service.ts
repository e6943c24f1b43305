/**
 * Runs the drains' forwarder (drain-forwarder.ts) while this api leads the scheduler, and only
 * then: any number of apis serve the drains' routes, one sends their lines. A term that ends
 * stops its workers; the next leader's continue from the cursors they left in Redis.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Drain } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import { DrainForwarder, type ForwarderSettings } from './drain-forwarder';
import { drainTargetPolicy, registeredNodeAddresses } from './drains.service';

/** The forwarder's settings from the api's (drains.config.ts); the rest are fixed here. */
export function forwarderSettings(config: ApiConfig): ForwarderSettings {
  return {
    batchLines: 500,
    batchMs: config.drains.batchMs,
    backoff: { firstMs: 1000, capMs: 60_000 },
    syncMs: 2000,
    sender: { policy: drainTargetPolicy(config), caPem: config.drains.caPem, timeoutMs: 10_000 },
  };
}

@Injectable()
export class DrainsForwarderService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('drains');
  private readonly forwarder: DrainForwarder;
  /** Start and stop in order: a term's stop finishes before the next term's start. */
  private changing: Promise<void> = Promise.resolve();
  private readonly onLeadership = (): void => this.termChanged();

  constructor(
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(REDIS) redis: Redis,
    @Inject(API_CONFIG) config: ApiConfig,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {
    const directory = {
      drains: () => dataSource.manager.find(Drain, { select: { id: true, appId: true, url: true } }),
      nodeAddresses: () => registeredNodeAddresses(dataSource),
    };
    this.forwarder = new DrainForwarder(redis, directory, forwarderSettings(config), this.logger);
  }

  /** How many times this api read the drains to forward them, and how many it feeds now (for tests). */
  get progress(): { syncs: number; workers: number } {
    return { syncs: this.forwarder.syncs, workers: this.forwarder.workerCount };
  }

  /** Whether this api forwards drains now (it leads the scheduler). */
  get forwarding(): boolean {
    return this.scheduler.leader.leading;
  }

  onApplicationBootstrap(): void {
    this.scheduler.events.on('leadership', this.onLeadership);
    this.termChanged();
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler.events.off('leadership', this.onLeadership);
    this.changing = this.changing.then(() => this.forwarder.stop());
    await this.changing;
  }

  private termChanged(): void {
    const leading = this.scheduler.leader.leading;
    this.changing = this.changing.then(async () => {
      await this.forwarder.stop();
      if (leading && this.scheduler.leader.leading) this.forwarder.start();
    });
  }
}
