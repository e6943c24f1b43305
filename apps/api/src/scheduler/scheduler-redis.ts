/**
 * The reconcile pass's roles over Redis: the route table the routers read (libs/platform
 * routes.ts), the scheduler's lines in app logs (with this process's deploy watchers told at
 * once through `events`), and the node channels that wake agents (scheduling/protocol.ts).
 * Best effort where what they tell has already happened: a Redis hiccup loses a line or a
 * wake-up (the agents' heartbeats catch up), never a committed plan.
 */
import {
  type AppActivity,
  clearWakeRequest,
  nodeChannel,
  readActivity,
  readWakeRequests,
  takeFirstByte,
  writeAppLog,
} from '@paas/platform';
import {
  type AppRoute,
  readRouteTable,
  rebuildRoutes,
  removeAppRoutes,
  routesVersion,
  setAppRoutes,
} from '@paas/platform/routes';
import type { Redis } from 'ioredis';
import type { EventEmitter } from 'node:events';
import type { LineEvent, NodeNotifier, PassLogger, PassMessages, RouteTable, SettledEvent, WakeSignals } from './pass';

/** The source of the scheduler's lines in an app's log. */
export const SCHEDULER_LOG_SOURCE = 'scheduler';

export class RedisRouteTable implements RouteTable {
  constructor(private readonly redis: Redis) {}

  async read(): Promise<Map<string, string>> {
    const table = await readRouteTable(this.redis);
    const routes = new Map([...table.routes].map(([name, route]) => [name, JSON.stringify(route)]));
    for (const bad of table.invalid) routes.set(bad.app, '');
    return routes;
  }

  version(): Promise<number> {
    return routesVersion(this.redis);
  }

  write(route: AppRoute): Promise<number> {
    return setAppRoutes(
      this.redis,
      route.app,
      route.hosts,
      route.backends,
      route.check,
      route.https,
      route.maintenance === true,
      {
        ...(route.sleeping ? { sleeping: true } : {}),
        ...(route.wakeRetryAt !== undefined ? { wakeRetryAt: route.wakeRetryAt } : {}),
        ...(route.hardLimit !== undefined ? { hardLimit: route.hardLimit } : {}),
      },
    );
  }

  async remove(app: string): Promise<number> {
    // absent already: the version stays as it is
    return (await removeAppRoutes(this.redis, app)) ?? (await routesVersion(this.redis));
  }

  rebuild(routes: readonly AppRoute[], past: number): Promise<number> {
    return rebuildRoutes(this.redis, routes, past);
  }
}

/** `line` (LineEvent) and `settled` (SettledEvent) go to `events` too, for deploy watchers here. */
export class SchedulerMessages implements PassMessages {
  constructor(
    private readonly redis: Redis,
    private readonly events: EventEmitter,
    private readonly logger: PassLogger,
  ) {}

  async line(appId: string, line: string): Promise<void> {
    this.events.emit('line', { appId, line } satisfies LineEvent);
    // every app's log starts with the api's lines (created, released); a late line for a
    // deleted app must not bring its log back
    await writeAppLog(this.redis, appId, SCHEDULER_LOG_SOURCE, line, {
      existingOnly: true,
      onError: (err) => this.logger.warn(`could not write to the log of app ${appId}: ${err.message}`),
    });
  }

  settled(event: SettledEvent): void {
    this.events.emit('settled', event);
  }
}

export class RedisNodeNotifier implements NodeNotifier {
  constructor(private readonly redis: Redis) {}

  async wake(nodeNames: ReadonlySet<string>): Promise<void> {
    for (const name of nodeNames) await this.redis.publish(nodeChannel(name), 'changed').catch(() => undefined);
  }
}

/** What the routers report and ask for (libs/platform wake.ts). */
export class RedisWakeSignals implements WakeSignals {
  constructor(private readonly redis: Redis) {}

  activity(apps: readonly string[]): Promise<Map<string, AppActivity>> {
    return readActivity(this.redis, apps);
  }

  wakes(apps: readonly string[]): Promise<Map<string, number>> {
    return readWakeRequests(this.redis, apps);
  }

  taken(app: string): Promise<void> {
    return clearWakeRequest(this.redis, app);
  }

  firstByte(app: string): Promise<number | null> {
    return takeFirstByte(this.redis, app);
  }
}
