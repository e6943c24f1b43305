/**
 * Review apps (#25): a push of any branch but the deploy branch to APP makes or updates
 * `APP--BRANCH` (git/push-flow.ts decides when; this service makes, lists and removes them).
 *
 * A review app is an app like any other (its own releases, formation, router host, log) with
 * `parentId` and `branch` set. At its creation it gets a copy of the parent's config vars,
 * without the ones the parent's add-on attachments set (a review app shares no add-on), then
 * app.json's `environments.review.env` over them and fresh add-ons for
 * `environments.review.addons`. Later pushes leave its vars alone.
 *
 * Who may use it: whoever may use the parent. A token scoped to the parent may use its review
 * apps, those made after the token too (libs/platform tokenAllowsApp: the one rule every check
 * of a scope, REST, git and add-ons, goes through); a token of another app never sees them.
 *
 * How many: at most PAAS_REVIEW_APPS_MAX per parent; a branch's first push past it is refused.
 *
 * Expiry: while this api leads the scheduler, review apps without a push for
 * PAAS_REVIEW_APPS_TTL are removed, and so are those without a release an hour after their
 * last push (a push whose api died before it released), each logged in its parent's log. The
 * branch stays in the parent's repository, as after apps:destroy of a review app: a later push
 * of it makes a new review app.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  ADDON_SERVICES,
  AUTOSCALED_TYPE,
  AddonAttachment,
  type ApiToken,
  App,
  Build,
  ConfigVar,
  DEFAULT_SIZE,
  Formation,
  Release,
  attachmentVar,
  autoscaleColumns,
  liveRelease,
  formatDuration,
  isUniqueViolation,
  parseSize,
  reviewAppName,
  sizeFields,
  transaction,
} from '@paas/platform';
import type { ReviewEnvironment } from '@paas/platform/builds';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { type DataSource, type EntityManager, IsNull, Not } from 'typeorm';
import { AddonsService } from '../addons/addons.service';
import { AppsService } from '../apps/apps.service';
import { releaseAppPushLock, takeAppPushLock } from '../builds-queue/platform-build';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig, appWebUrl } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { ReviewView } from './reviews.dto';

/** A sleeping review app's one instance takes this many requests in flight (`ps:autoscale`'s default). */
const REVIEW_CONCURRENCY = 20;

/** How often the leader looks for review apps past their time. */
export const EXPIRY_ROUND_MS = 60_000;
/** A review app still without a release this long after its last push lost its push (its api died). */
export const UNRELEASED_TTL_MS = 3_600_000;
/** The longest branch a review app records (its `branch` column). */
export const MAX_BRANCH_LENGTH = 255;

/** Why a review app could not be made, in words for the pusher. */
export class ReviewAppError extends Error {}

@Injectable()
export class ReviewsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('reviews');
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(AppsService) private readonly apps: AppsService,
    @Inject(AddonsService) private readonly addons: AddonsService,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  onApplicationBootstrap(): void {
    // runs with PAAS_REVIEW_APPS_TTL=0 too: review apps left without a release still go
    this.timer = setInterval(() => {
      if (!this.scheduler.leader.leading) return;
      this.round = this.round
        .then(() => this.expire(Date.now()))
        .catch((err: unknown) => this.logger.warn(`removing idle review apps: ${(err as Error).message}`));
    }, EXPIRY_ROUND_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  /** The review app of the parent's `branch`, or null. */
  find(parent: App, branch: string): Promise<App | null> {
    return this.dataSource.manager.findOne(App, { where: { parentId: parent.id, branch } });
  }

  /** The parent's review apps, by name. */
  async list(parent: App): Promise<ReviewView[]> {
    const { manager } = this.dataSource;
    const reviews = await manager.find(App, { where: { parentId: parent.id }, order: { name: 'ASC' } });
    return Promise.all(
      reviews.map(async (app) => {
        const build = await manager.findOne(Build, { where: { appId: app.id }, order: { createdAt: 'DESC' } });
        const release = await manager.findOne(Release, { where: { appId: app.id }, order: { version: 'DESC' } });
        const building = build?.status === 'pending' || build?.status === 'building';
        return {
          name: app.name,
          branch: app.branch ?? '',
          url: appWebUrl(this.config, app.name),
          lastPushAt: build?.createdAt ?? app.createdAt,
          state: building ? 'building' : release?.imageRef ? `v${release.version} ${release.status}` : 'no release',
        };
      }),
    );
  }

  /**
   * Makes the review app of the parent's `branch` for the pushing `token` (see the top). A push
   * of the same branch that made it first wins: its app is answered, `made` false. When its
   * add-ons cannot be made the app goes again and this throws: nothing is left half-made.
   */
  async create(
    parent: App,
    branch: string,
    environment: ReviewEnvironment,
    token: ApiToken,
  ): Promise<{ app: App; made: boolean }> {
    if (parent.parentId !== null) {
      throw new ReviewAppError(`${parent.name} is a review app itself: push ${branch} to its parent's remote`);
    }
    if (branch.length > MAX_BRANCH_LENGTH) {
      throw new ReviewAppError(
        `branch name too long for a review app: ${branch.length} characters, at most ${MAX_BRANCH_LENGTH}`,
      );
    }
    let made: App | null = null;
    for (const hashed of [false, true]) {
      const name = reviewAppName(parent.name, branch, hashed);
      if (name === null) {
        throw new ReviewAppError(`${parent.name}'s name is too long for review apps (${parent.name}--BRANCH)`);
      }
      try {
        made = await transaction(this.dataSource, (manager) => this.insert(manager, parent, branch, name, environment));
        break;
      } catch (err) {
        if (!isUniqueViolation(err) && !(err instanceof ReviewAppError)) throw err;
        // the same branch by a push that went first (the limit counts it too), or the name
        // taken by another app
        const raced = await this.find(parent, branch);
        if (raced) return { app: raced, made: false };
        if (err instanceof ReviewAppError) throw err;
      }
    }
    if (!made) throw new ReviewAppError(`no free name for the review app of ${branch}`);
    const review = made;
    await logAppEvent(
      this.redis,
      review.id,
      `Created review app ${review.name} of ${parent.name} (${branch}) by ${token.name}`,
    );
    await logAppEvent(this.redis, parent.id, `Created review app ${review.name} for ${branch} by ${token.name}`);
    try {
      for (const type of environment.addons) await this.addons.create(review, { type }, token);
    } catch (err) {
      await this.destroy(review, 'its add-ons could not be made');
      throw new ReviewAppError(`the add-ons of review app ${review.name} could not be made: ${(err as Error).message}`);
    }
    return { app: review, made: true };
  }

  /** Whether a release of the review app is live. */
  async released(review: App): Promise<boolean> {
    return (await liveRelease(this.dataSource.manager, review.id)) !== null;
  }

  private async insert(
    manager: EntityManager,
    parent: App,
    branch: string,
    name: string,
    environment: ReviewEnvironment,
  ): Promise<App> {
    const max = this.config.reviewAppsMax;
    // counted in the transaction that adds one; two first pushes racing may pass it by one
    const count = await manager.count(App, { where: { parentId: parent.id } });
    if (count >= max) {
      throw new ReviewAppError(
        max === 0
          ? 'review apps are off here (PAAS_REVIEW_APPS_MAX=0): push to main or master'
          : `${parent.name} has ${count} review apps, the most allowed (PAAS_REVIEW_APPS_MAX=${max}): delete a branch's review app (git push --delete) first`,
      );
    }
    const id = randomUUID();
    await manager.insert(App, { id, name, parentId: parent.id, branch });
    // it sleeps when idle (the "review apps idle-sleep by default"): web autoscaled
    // between 0 and 1 before its first release, which keeps the row when it has a web process
    const idleMs = this.config.reviewAppsIdleMs;
    if (idleMs > 0)
      await manager.insert(Formation, {
        appId: id,
        type: AUTOSCALED_TYPE,
        quantity: 1,
        ...sizeFields(parseSize(DEFAULT_SIZE)),
        ...autoscaleColumns({ min: 0, max: 1, concurrency: REVIEW_CONCURRENCY, idleMs }),
      });
    // the parent's add-ons are its own: their URLs stay behind, and so does a var an add-on
    // made for the review app is about to set
    const attached = await manager.find(AddonAttachment, { where: { appId: parent.id }, select: { name: true } });
    const dropped = new Set([
      ...attached.map((a) => attachmentVar(a.name)),
      ...environment.addons.map((type) => attachmentVar(ADDON_SERVICES[type].attachAs)),
    ]);
    const vars = new Map<string, string>();
    for (const row of await manager.find(ConfigVar, { where: { appId: parent.id } }))
      if (!dropped.has(row.key)) vars.set(row.key, row.value);
    for (const [key, value] of Object.entries(environment.env)) vars.set(key, value);
    for (const [key, value] of vars) await manager.insert(ConfigVar, { appId: id, key, value });
    return manager.findOneByOrFail(App, { id });
  }

  /** Removes a review app as apps:destroy does, saying why in its parent's log. */
  async destroy(review: App, why: string): Promise<void> {
    await this.apps.remove(review);
    if (review.parentId !== null) {
      await logAppEvent(this.redis, review.parentId, `Removed review app ${review.name} (${review.branch}): ${why}`);
    }
  }

  /**
   * Removes the review apps whose last push (or creation) is older than the TTL at `now`, and
   * those without a release UNRELEASED_TTL_MS after it (a first push whose api died: its push
   * would have removed it). One a push holds now is left for the next round. Their names.
   */
  async expire(now: number): Promise<string[]> {
    const removed: string[] = [];
    for (const review of await this.dataSource.manager.find(App, { where: { parentId: Not(IsNull()) } })) {
      if ((await this.why(review, now)) === null) continue;
      const holder = randomUUID();
      if (!(await takeAppPushLock(this.redis, review.id, holder))) continue;
      try {
        // read again holding the app: a push that ended since the first look counts
        const why = await this.why(review, now);
        if (why === null) continue;
        await this.destroy(review, why);
        removed.push(review.name);
      } finally {
        await releaseAppPushLock(this.redis, review.id, holder).catch(() => undefined);
      }
    }
    return removed;
  }

  /** Why the review app goes at `now`; null when it stays. */
  private async why(review: App, now: number): Promise<string | null> {
    const { manager } = this.dataSource;
    const ttl = this.config.reviewAppsTtlMs;
    const build = await manager.findOne(Build, { where: { appId: review.id }, order: { createdAt: 'DESC' } });
    const idle = now - (build?.createdAt ?? review.createdAt).getTime();
    if (ttl !== 0 && idle >= ttl) return `no push for ${roughly(idle)} (PAAS_REVIEW_APPS_TTL ${formatDuration(ttl)})`;
    if (idle >= UNRELEASED_TTL_MS && !(await this.released(review))) {
      return `no release ${roughly(idle)} after its last push`;
    }
    return null;
  }
}

/** A time gone by, to the unit that matters (formatDuration of it rounded down). */
function roughly(ms: number): string {
  for (const unit of [86_400_000, 3_600_000, 60_000]) if (ms >= unit) return formatDuration(ms - (ms % unit));
  return formatDuration(Math.max(1000, ms - (ms % 1000)));
}
