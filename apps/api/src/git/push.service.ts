/**
 * The push flow (push-flow.ts) as the api runs it: its roles are the build queue (BullMQ),
 * the build rows and their Redis log streams, the pushes' leases and the apps' push locks in
 * Redis (push-lease.ts), DeploysService, the app's bare repository through libs/platform's
 * hardened git, and ReviewsService for pushes of other branches. Every few seconds it settles pushes whose api died (PushFlow.recover).
 */
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type ApiToken, type App, Build, buildLogKey, followLog, git } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { BuildsQueueService } from '../builds-queue/builds-queue.service';
import {
  abandonedPushes,
  closePush,
  createBuild,
  failLostBuild,
  openPush,
  releaseAppPushLock,
  renewAppPushLock,
  settleAbandonedPush,
  takeAppPushLock,
} from '../builds-queue/platform-build';
import { API_CONFIG, type ApiConfig, appWebUrl } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { DeploysService } from '../scheduler/deploys.service';
import { ReviewsService } from '../reviews/reviews.service';
import type { CommandResult, PushCommand, PushProgress } from './proc-receive';
import { type Branches, type Clock, PushFlow } from './push-flow';
import { resolveRef } from './repos';

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const systemClock: Clock = { now: () => Date.now(), sleep };

/** The app's bare repository, through git with the hardened environment. */
const repositories: Branches = {
  resolve: resolveRef,
  objectType: (repo, id) => git(['--git-dir', repo, 'cat-file', '-t', id]).catch(() => 'missing'),
  move: async (repo, command, message) => {
    await git(['--git-dir', repo, 'update-ref', '-m', message, command.ref, command.newId, command.oldId]);
    // a first push to master leaves HEAD on the unborn main: point it at what was deployed
    const head = await git(['--git-dir', repo, 'symbolic-ref', 'HEAD']).catch(() => '');
    if (head !== command.ref && (await resolveRef(repo, head || 'HEAD')) === null) {
      await git(['--git-dir', repo, 'symbolic-ref', 'HEAD', command.ref]);
    }
  },
  file: async (repo, commit, path) => {
    // `commit:path` names a blob only when the tree has one there
    if ((await git(['--git-dir', repo, 'cat-file', '-t', `${commit}:${path}`]).catch(() => '')) !== 'blob') return null;
    return git(['--git-dir', repo, 'cat-file', 'blob', `${commit}:${path}`]);
  },
};

/** How often the api looks for pushes whose api died (their lease, PUSH_LEASE_MS, ran out). */
export const RECOVER_INTERVAL_MS = 3000;

@Injectable()
export class PushService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('git');
  private readonly flow: PushFlow<App, ApiToken>;
  private recovering: ReturnType<typeof setInterval> | undefined;
  private sweep: Promise<void> = Promise.resolve();

  constructor(
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(REDIS) redis: Redis,
    @Inject(BuildsQueueService) queue: BuildsQueueService,
    @Inject(DeploysService) deploys: DeploysService,
    @Inject(API_CONFIG) config: ApiConfig,
    @Inject(ReviewsService) reviews: ReviewsService,
  ) {
    this.flow = new PushFlow<App, ApiToken>({
      queue,
      builds: {
        create: (input) => createBuild(dataSource, input),
        releaseOf: async (id) => (await dataSource.manager.findOneByOrFail(Build, { id })).releaseId,
        status: async (id) =>
          (await dataSource.manager.findOne(Build, { where: { id }, select: { id: true, status: true } }))?.status ??
          null,
        failLost: (id, reason) => failLostBuild(dataSource, redis, id, reason),
        abandon: (id, reason) => settleAbandonedPush(dataSource, redis, id, reason),
      },
      pushes: {
        open: (push) => openPush(redis, push),
        renew: (push) => openPush(redis, push),
        close: (id) => closePush(redis, id),
        abandoned: () => abandonedPushes(redis),
      },
      locks: {
        take: (appId, holder) => takeAppPushLock(redis, appId, holder),
        renew: (appId, holder) => renewAppPushLock(redis, appId, holder),
        release: (appId, holder) => releaseAppPushLock(redis, appId, holder),
      },
      log: { follow: (buildId, signal) => followLog(redis, buildLogKey(buildId), '0', signal) },
      deploys,
      branches: repositories,
      clock: systemClock,
      reviews: {
        find: (parent, branch) => reviews.find(parent, branch),
        create: (parent, branch, environment, token) => reviews.create(parent, branch, environment, token),
        destroy: (review, why) => reviews.destroy(review, why),
        released: (review) => reviews.released(review),
      },
      url: (app) => appWebUrl(config, app),
    });
  }

  /** The proc-receive commands of one push (see proc-receive.ts), answered in order. */
  receive(
    app: App,
    repo: string,
    commands: readonly PushCommand[],
    progress: PushProgress,
    /** The pushing token: its name is the release's createdBy. */
    pusher: ApiToken,
  ): Promise<CommandResult[]> {
    return this.flow.receive(app, repo, commands, progress, pusher);
  }

  /** Pushes of a dead api (this one before a restart, or another replica) are settled. */
  onApplicationBootstrap(): void {
    const recover = (): void => {
      this.sweep = this.sweep
        .then(() => this.flow.recover())
        .then((done) => done.forEach((line) => this.logger.warn(`push whose api died: ${line}`)))
        .catch((err: unknown) => this.logger.warn(`settling pushes whose api died: ${(err as Error).message}`));
    };
    recover();
    this.recovering = setInterval(recover, RECOVER_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.recovering);
    this.flow.close();
    await this.sweep;
  }
}
