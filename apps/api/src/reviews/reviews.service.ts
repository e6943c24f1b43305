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
 * Who may use it: whoever may use the parent. Tokens scoped to the parent get the review app
 * in their scope when it is made (and lose it with it, as with any app), so every check of a
 * scope (REST, git, add-ons) treats it as theirs; a token of another app never sees it.
 *
 * Expiry: while this api leads the scheduler, review apps without a push for
 * PAAS_REVIEW_APPS_TTL are removed, each logged in its parent's log.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  ADDON_SERVICES,
  AddonAttachment,
  ApiToken,
  App,
  Build,
  ConfigVar,
  Release,
  attachmentVar,
  isUniqueViolation,
  reviewAppName,
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
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { ReviewView } from './reviews.dto';

/** How often the leader looks for review apps past their time. */
export const EXPIRY_ROUND_MS = 60_000;

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
    if (this.config.reviewAppsTtlMs === 0) return;
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
    const port = this.config.routerPort === 80 ? '' : `:${this.config.routerPort}`;
    return Promise.all(
      reviews.map(async (app) => {
        const build = await manager.findOne(Build, { where: { appId: app.id }, order: { createdAt: 'DESC' } });
        const release = await manager.findOne(Release, { where: { appId: app.id }, order: { version: 'DESC' } });
        const building = build?.status === 'pending' || build?.status === 'building';
        return {
          name: app.name,
          branch: app.branch ?? '',
          url: `http://${app.name}.${this.config.domain}${port}`,
          lastPushAt: build?.createdAt ?? app.createdAt,
          state: building ? 'building' : release?.imageRef ? `v${release.version} ${release.status}` : 'no release',
        };
      }),
    );
  }

  /**
   * Makes the review app of the parent's `branch` for the pushing `token` (see the top). A push
   * of the same branch that made it first wins: its app is answered. When its add-ons cannot
   * be made the app goes again and this throws: nothing is left half-made.
   */
  async create(parent: App, branch: string, environment: ReviewEnvironment, token: ApiToken): Promise<App> {
    if (parent.parentId !== null) {
      throw new ReviewAppError(`${parent.name} is a review app itself: push ${branch} to its parent's remote`);
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
        if (!isUniqueViolation(err)) throw err;
        // the same branch by a push that went first, or the name taken by another app
        const raced = await this.find(parent, branch);
        if (raced) return raced;
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
    // the pushing token sees the review app as the row now says (its scope gained it above)
    const scoped: ApiToken = { ...token, apps: token.apps === null ? null : [...token.apps, review.name] };
    try {
      for (const type of environment.addons) await this.addons.create(review, { type }, scoped);
    } catch (err) {
      await this.destroy(review, 'its add-ons could not be made');
      throw new ReviewAppError(`the add-ons of review app ${review.name} could not be made: ${(err as Error).message}`);
    }
    return review;
  }

  private async insert(
    manager: EntityManager,
    parent: App,
    branch: string,
    name: string,
    environment: ReviewEnvironment,
  ): Promise<App> {
    const id = randomUUID();
    await manager.insert(App, { id, name, parentId: parent.id, branch });
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
    for (const token of await manager.find(ApiToken)) {
      if (token.apps?.includes(parent.name) && !token.apps.includes(name))
        await manager.update(ApiToken, { id: token.id }, { apps: [...token.apps, name] });
    }
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
   * Removes the review apps whose last push (or creation) is older than the TTL at `now`;
   * one a push holds now is left for the next round. Their names.
   */
  async expire(now: number): Promise<string[]> {
    const ttl = this.config.reviewAppsTtlMs;
    if (ttl === 0) return [];
    const { manager } = this.dataSource;
    const removed: string[] = [];
    for (const review of await manager.find(App, { where: { parentId: Not(IsNull()) } })) {
      const build = await manager.findOne(Build, { where: { appId: review.id }, order: { createdAt: 'DESC' } });
      const last = (build?.createdAt ?? review.createdAt).getTime();
      if (now - last < ttl) continue;
      const holder = randomUUID();
      if (!(await takeAppPushLock(this.redis, review.id, holder))) continue;
      try {
        await this.destroy(review, `no push for ${describeMs(now - last)} (PAAS_REVIEW_APPS_TTL ${describeMs(ttl)})`);
        removed.push(review.name);
      } finally {
        await releaseAppPushLock(this.redis, review.id, holder).catch(() => undefined);
      }
    }
    return removed;
  }
}

function describeMs(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  if (hours >= 48) return `${Math.floor(hours / 24)} days`;
  if (hours >= 1) return `${hours} h`;
  return `${Math.max(1, Math.floor(ms / 60_000))} min`;
}
