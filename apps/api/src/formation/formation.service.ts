import { Inject, Injectable } from '@nestjs/common';
import {
  type ApiToken,
  type App,
  currentRelease,
  Formation,
  ONE_OFF_TYPES,
  type Release,
  transaction,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { FormationUpdateDto, FormationView } from './formation.dto';

@Injectable()
export class FormationService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  async list(app: App): Promise<FormationView[]> {
    const [rows, release] = await Promise.all([
      this.dataSource.manager.find(Formation, { where: { appId: app.id }, order: { type: 'ASC' } }),
      currentRelease(this.dataSource.manager, app.id),
    ]);
    return rows.map((row) => view(row, release));
  }

  async get(app: App, type: string): Promise<FormationView> {
    const found = (await this.list(app)).find((row) => row.type === type);
    if (!found) throw ApiError.notFound(`process type '${type}' of app '${app.name}' not found`);
    return found;
  }

  /**
   * Scales process types of the current release, all or none, and says so in the app's log as
   * Heroku does. The scheduler is asked for a pass at once: instances start or stop in seconds.
   */
  async update(app: App, updates: readonly FormationUpdateDto[], token: ApiToken): Promise<FormationView[]> {
    const seen = new Set<string>();
    for (const update of updates) {
      if (seen.has(update.type))
        throw ApiError.invalidField('updates', 'uniqueType', `type '${update.type}' is listed twice`);
      seen.add(update.type);
    }
    const changed = await transaction(this.dataSource, async (manager) => {
      const release = await currentRelease(manager, app.id);
      const types = Object.keys(release?.processTypes ?? {}).filter((type) => !ONE_OFF_TYPES.has(type));
      const rows: Formation[] = [];
      for (const update of updates) {
        if (!types.includes(update.type)) {
          const has = release ? `v${release.version} has ${types.join(', ') || 'none'}` : 'the app has no release yet';
          throw ApiError.unprocessable(`no process type '${update.type}' to scale: ${has}`);
        }
        const row =
          (await manager.findOne(Formation, { where: { appId: app.id, type: update.type } })) ??
          manager.create(Formation, { appId: app.id, type: update.type, quantity: 0, memory: 512, cpu: 1000 });
        const next = {
          quantity: update.quantity ?? row.quantity,
          memory: update.memory ?? row.memory,
          cpu: update.cpu ?? row.cpu,
        };
        if (row.updatedAt && next.quantity === row.quantity && next.memory === row.memory && next.cpu === row.cpu)
          continue;
        Object.assign(row, next);
        rows.push(await manager.save(Formation, row));
      }
      return rows;
    });
    if (changed.length > 0) {
      this.scheduler.kick();
      const scale = changed.map((row) => `${row.type}@${row.quantity}:${row.memory}M`).join(' ');
      await logAppEvent(this.redis, app.id, `Scaled to ${scale} by ${token.name}`);
    }
    return this.list(app);
  }
}

function view(row: Formation, release: Release | null): FormationView {
  return {
    type: row.type,
    quantity: row.quantity,
    memory: row.memory,
    cpu: row.cpu,
    command: release?.processTypes[row.type] ?? null,
    updatedAt: row.updatedAt,
  };
}
