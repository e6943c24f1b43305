import { Inject, Injectable } from '@nestjs/common';
import {
  type ApiToken,
  type App,
  currentRelease,
  isUniqueViolation,
  Release,
  rollbackRelease,
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

  /** Heroku's rollback (libs/platform rollbackRelease): a new release with vN's image and config. */
  async rollback(app: App, version: number, token: ApiToken): Promise<ReleaseView> {
    for (let attempt = 1; ; attempt++) {
      try {
        // a RollbackError answers 404 or 422 by its code
        const release = await transaction(this.dataSource, (manager) =>
          rollbackRelease(manager, app, version, token.name),
        );
        await logAppEvent(this.redis, app.id, `Rollback to v${version} by ${token.name}`);
        await logAppEvent(this.redis, app.id, `Release v${release.version} created by ${token.name}`);
        return view(release, await currentRelease(this.dataSource.manager, app.id));
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
    liveAt: release.liveAt,
    error: release.deployError,
    waiting: release.deployNote,
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
