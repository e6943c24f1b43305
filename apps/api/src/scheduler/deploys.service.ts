/**
 * Waiting for a release to go live, for the git push (which answers the pusher only once its
 * release serves or failed) and anyone else in the api process.
 *
 *   const outcome = await deploys.waitLive(release.id, { onLine: (line) => progress.line(line) });
 *   outcome.status: 'live' | 'failed' | 'superseded' | 'unscheduled' | 'timeout'
 *
 * `onLine` gets the scheduler's lines about the app as they happen (instances starting, up,
 * failing their checks, the switch). The outcome comes from the scheduler's events in this
 * process, and from the release's state (libs/platform release-lifecycle.ts), which other
 * processes read the same way. The lines come as events only in the api that runs the
 * scheduler (leader.ts); an api that does not reads them from the app's log, where the pass
 * writes them too.
 */
import { Inject, Injectable } from '@nestjs/common';
import { Node, Release, appLogKey, followLog, logCursor, supersededBy } from '@paas/platform';
import type { Redis } from 'ioredis';
import { type DataSource, Not } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import type { LineEvent, SettledEvent } from './pass';
import { SCHEDULER_LOG_SOURCE } from './scheduler-redis';
import { SchedulerService } from './scheduler.service';

export type DeployOutcome =
  | { readonly status: 'live'; readonly version: number }
  | { readonly status: 'failed'; readonly version: number; readonly reason: string }
  /** A newer release took over before this one went live. */
  | { readonly status: 'superseded'; readonly version: number; readonly by: number }
  /** Nothing will run it: no node is up, the scheduler is off, or the release has no image. */
  | { readonly status: 'unscheduled'; readonly version: number; readonly reason: string }
  | { readonly status: 'timeout'; readonly version: number };

export interface WaitLiveOptions {
  /** The scheduler's lines about the release's app, as they come. */
  readonly onLine?: (line: string) => void;
  /** Default: the deploy timeout plus 30 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const POLL_MS = 250;

@Injectable()
export class DeploysService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Resolves when release `releaseId` is live or will not be; see DeployOutcome. */
  async waitLive(releaseId: string, options: WaitLiveOptions = {}): Promise<DeployOutcome> {
    const release = await this.dataSource.manager.findOneOrFail(Release, { where: { id: releaseId } });
    const timeoutMs = options.timeoutMs ?? this.config.scheduler.deployTimeoutMs + 30_000;
    const onLine = (event: LineEvent): void => {
      if (event.appId === release.appId) options.onLine?.(event.line);
    };
    let settle!: (outcome: DeployOutcome) => void;
    const settled = new Promise<DeployOutcome>((resolve) => (settle = resolve));
    const onSettled = (event: SettledEvent): void => {
      if (event.releaseId !== releaseId) return;
      settle(
        event.status === 'live'
          ? { status: 'live', version: event.version }
          : { status: 'failed', version: event.version, reason: event.reason ?? 'its instances did not start' },
      );
    };
    this.scheduler.events.on('line', onLine);
    this.scheduler.events.on('settled', onSettled);
    const abort = (): void => settle({ status: 'timeout', version: release.version });
    options.signal?.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(abort, timeoutMs);
    let done = false;
    const following = new AbortController();
    try {
      if (options.onLine && !this.scheduler.leader.leading) {
        await this.followLines(release.appId, options.onLine, following.signal);
      }
      this.scheduler.kick();
      const polling = (async () => {
        // the scheduler commits live or failed before it writes the routes and tells its lines,
        // then emits `settled`: a state seen here while waiting is taken on its second sighting,
        // so the event (routes written, lines told) comes first when this process's scheduler
        // settles it; one already settled before the wait is taken at once
        for (let look = 0, sightings = 0; !done; look++) {
          const outcome = await this.look(release).catch(() => null);
          const fromScheduler = outcome?.status === 'live' || outcome?.status === 'failed';
          if (outcome && (look === 0 || !fromScheduler || ++sightings > 1)) return settle(outcome);
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      })();
      const outcome = await settled;
      done = true;
      await polling;
      return outcome;
    } finally {
      done = true;
      following.abort();
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
      this.scheduler.events.off('line', onLine);
      this.scheduler.events.off('settled', onSettled);
    }
  }

  /**
   * Passes `onLine` the scheduler's lines about the app as another api's pass writes them to
   * its log, from now (the cursor is taken before this resolves) until `signal`; a line this
   * api says itself, once it leads, comes as an event instead. Best effort, as the log is.
   */
  private async followLines(appId: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    const key = appLogKey(appId);
    const cursor = await logCursor(this.redis, key).catch(() => null);
    if (cursor === null) return;
    void (async () => {
      for await (const entry of followLog(this.redis, key, cursor, signal)) {
        if (entry.source === SCHEDULER_LOG_SOURCE && !this.scheduler.leader.leading) onLine(entry.line);
      }
    })().catch(() => undefined);
  }

  /** The outcome the release's state already shows, or null while it is open. */
  private async look(release: Release): Promise<DeployOutcome | null> {
    const { manager } = this.dataSource;
    const now = await manager.findOne(Release, { where: { id: release.id } });
    const version = release.version;
    if (!now) return { status: 'unscheduled', version, reason: 'the release is gone (was the app deleted?)' };
    switch (now.status) {
      case 'building':
        return null;
      case 'failed':
        return { status: 'failed', version, reason: now.deployError ?? 'the release failed' };
      case 'live':
        // without an image it is live at once, with nothing to start
        return now.imageRef
          ? { status: 'live', version }
          : { status: 'unscheduled', version, reason: `v${version} has no image to run` };
      case 'superseded': {
        // it served before a newer one took over
        if (now.liveAt) return { status: 'live', version };
        const by = await supersededBy(manager, now);
        return { status: 'superseded', version, by: by?.version ?? version };
      }
      case 'deploying':
        break;
    }
    if (!this.scheduler.enabled)
      return { status: 'unscheduled', version, reason: 'the scheduler is off (PAAS_SCHEDULER=off)' };
    if ((await manager.count(Node, { where: { state: Not('down') } })) === 0) {
      return { status: 'unscheduled', version, reason: `no node is up: v${version} starts when one registers` };
    }
    return null;
  }
}
