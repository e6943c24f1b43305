import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { nodeChannel, reportOutages, whenReady } from '@paas/platform';
import type { Redis } from 'ioredis';
import { REDIS } from '../core/tokens';

/**
 * The nodes' nudges, Redis -> the agents' event streams: the scheduler publishes on
 * `nodeChannel(name)` (scheduler-redis.ts) on whichever api replica planned; every replica
 * holds one pattern subscription to all node channels and hands each message to the streams
 * of that node it serves. ioredis subscribes again after a reconnect; what was published
 * meanwhile is lost, and the agents' heartbeats catch up.
 */
@Injectable()
export class NodeEventsService implements OnModuleDestroy {
  private readonly prefix = nodeChannel('');
  private readonly listeners = new Map<string, Set<() => void>>();
  private subscriber: Redis | undefined;
  private subscribed: Promise<void> | undefined;
  private readonly logger = new Logger('node-events');

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** Calls `onNudge` for each nudge of node `name` until the returned function is called. */
  async listen(name: string, onNudge: () => void): Promise<() => void> {
    await this.subscribe();
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(onNudge);
    return () => {
      set.delete(onNudge);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  private subscribe(): Promise<void> {
    this.subscribed ??= (async () => {
      const subscriber = this.redis.duplicate();
      this.subscriber = subscriber;
      // said once while Redis is away, not on every retry
      reportOutages(subscriber, (line) => this.logger.warn(`node channels: ${line}`));
      subscriber.on('pmessage', (_pattern: string, channel: string) => {
        for (const onNudge of this.listeners.get(channel.slice(this.prefix.length)) ?? []) onNudge();
      });
      await whenReady(subscriber);
      await subscriber.psubscribe(`${this.prefix}*`);
    })().catch((err: unknown) => {
      // the next stream tries again
      this.subscriber?.disconnect();
      this.subscriber = undefined;
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  onModuleDestroy(): void {
    this.subscriber?.disconnect();
  }
}
