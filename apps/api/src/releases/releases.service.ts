import { Inject, Injectable } from '@nestjs/common';
import {
  type ApiToken,
  type App,
  ConfigVar,
  currentRelease,
  insertRelease,
  isUniqueViolation,
  lockApp,
  Release,
  transaction,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import type { ReleaseView } from './releases.dto';

/** Attempts at taking the next version number when concurrent releases race for it. */
const VERSION_RACE_ATTEMPTS = 8;

@Injectable()
export class ReleasesService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async list(app: App): Promise<ReleaseView[]> {
    const [releases, current] = await Promise.all([
      this.dataSource.manager.find(Release, { where: { appId: app.id }, order: { version: 'DESC' } }),
      currentRelease(this.dataSource.manager, app.id),
    ]);
    return releases.map((release) => view(release, current));
  }

  /** By version (`12`, `v12`) or id. */
  async get(app: App, ref: string): Promise<ReleaseView> {
    const version = /^v?(\d{1,9})$/.exec(ref)?.[1];
    const where =
      version !== undefined
        ? { appId: app.id, version: Number(version) }
        : /^[0-9a-f-]{36}$/.test(ref)
          ? { appId: app.id, id: ref }
          : null;
    const release = where && (await this.dataSource.manager.findOne(Release, { where }));
    if (!release) throw ApiError.notFound(`release '${ref}' of app '${app.name}' not found`);
    return view(release, await currentRelease(this.dataSource.manager, app.id));
  }

  /**
   * Heroku's rollback: a new release with vN's image, process types and config. The app's
   * config vars go back to vN's snapshot too, so the next config change starts from what runs.
   */
  async rollback(app: App, version: number, token: ApiToken): Promise<ReleaseView> {
    for (let attempt = 1; ; attempt++) {
      try {
        const release = await transaction(this.dataSource, async (manager) => {
          await lockApp(manager, app.id);
          const target = await manager.findOne(Release, { where: { appId: app.id, version } });
          if (!target) throw ApiError.notFound(`release v${version} of app '${app.name}' not found`);
          if (target.status !== 'succeeded')
            throw ApiError.unprocessable(
              `release v${version} ${target.status}; only a release that succeeded can come back`,
            );
          if (!target.imageRef) throw ApiError.unprocessable(`release v${version} has no image to roll back to`);
          await manager.delete(ConfigVar, { appId: app.id });
          for (const [key, value] of Object.entries(target.config))
            await manager.insert(ConfigVar, { appId: app.id, key, value });
          return insertRelease(manager, {
            appId: app.id,
            description: `Rollback to v${version}`,
            imageRef: target.imageRef,
            imageDigest: target.imageDigest,
            processTypes: target.processTypes,
            healthchecks: target.healthchecks,
            config: target.config,
            createdBy: token.name,
          });
        });
        await logAppEvent(this.redis, app.id, `Rollback to v${version} by ${token.name}`);
        await logAppEvent(this.redis, app.id, `Release v${release.version} created by ${token.name}`);
        return view(release, release);
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= VERSION_RACE_ATTEMPTS) throw err;
      }
    }
  }
}

function view(release: Release, current: Release | null): ReleaseView {
  return {
    id: release.id,
    version: release.version,
    status: release.status,
    description: release.description,
    imageRef: release.imageRef,
    imageDigest: release.imageDigest,
    config: release.config,
    processTypes: release.processTypes,
    buildId: release.buildId,
    current: release.id === current?.id,
    createdBy: release.createdBy,
    createdAt: release.createdAt,
  };
}
