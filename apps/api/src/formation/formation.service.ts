import { Inject, Injectable } from '@nestjs/common';
import {
  type ApiToken,
  type Autoscale,
  AUTOSCALED_TYPE,
  type App,
  currentRelease,
  customSize,
  DEFAULT_SIZE,
  DURATION_RULE,
  Formation,
  MAX_QUANTITY,
  autoscaleColumns,
  autoscaleProblems,
  describeAutoscale,
  formationAutoscale,
  formatDuration,
  isSleeping,
  parseDuration,
  Instance,
  largestCount,
  Node,
  ONE_OFF_TYPES,
  parseSize,
  type Release,
  type Size,
  sizeFields,
  transaction,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource, EntityManager } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { AutoscaleDto, FormationChangeDto, FormationUpdateDto, FormationView } from './formation.dto';

@Injectable()
export class FormationService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  async list(app: App): Promise<FormationView[]> {
    const { manager } = this.dataSource;
    const [rows, release] = await Promise.all([
      manager.find(Formation, { where: { appId: app.id }, order: { type: 'ASC' } }),
      currentRelease(manager, app.id),
    ]);
    const up = new Map<string, number>();
    if (release) {
      const instances = await manager.find(Instance, {
        where: { appId: app.id, releaseId: release.id, desired: 'run', state: 'up' },
        select: { type: true },
      });
      for (const i of instances) up.set(i.type, (up.get(i.type) ?? 0) + 1);
    }
    return rows.map((row) => view(row, release, up.get(row.type) ?? 0));
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
          manager.create(Formation, {
            appId: app.id,
            type: update.type,
            quantity: 0,
            ...sizeFields(parseSize(DEFAULT_SIZE)),
          });
        // as Heroku: no manual scale of a type autoscale scales (a resize keeps the quantity given)
        if (formationAutoscale(row) && update.quantity !== undefined && update.quantity !== row.quantity) {
          const message = `autoscale sets ${update.type}'s quantity; ps:autoscale:disable ${update.type} first`;
          throw new ApiError('unprocessable', message, [{ field: 'quantity', rule: 'autoscale', message }]);
        }
        const size = sizeOf(update) ?? parseSize(row.size);
        const quantity = update.quantity ?? row.quantity;
        if (row.updatedAt && quantity === row.quantity && size.name === row.size) continue;
        await checkCapacity(manager, update.type, quantity, size);
        Object.assign(row, { quantity, ...sizeFields(size) });
        rows.push(await manager.save(Formation, row));
      }
      return rows;
    });
    if (changed.length > 0) {
      this.scheduler.kick();
      const scale = changed.map((row) => `${row.type}@${row.quantity}:${row.size}`).join(' ');
      await logAppEvent(this.redis, app.id, `Scaled to ${scale} by ${token.name}`);
    }
    return this.list(app);
  }

  /**
   * Turns a process type's autoscale on with `settings` (its quantity brought between min and
   * max at once) or off (null: the quantity stays, but a sleeping type is woken to one, since
   * nothing would wake it any more). The scheduler then scales it: to zero when idle with min 0.
   */
  async autoscale(app: App, type: string, settings: AutoscaleDto | null, token: ApiToken): Promise<void> {
    const wanted = settings && autoscaleSettings(settings);
    const row = await transaction(this.dataSource, async (manager) => {
      const release = await currentRelease(manager, app.id);
      const types = Object.keys(release?.processTypes ?? {}).filter((t) => !ONE_OFF_TYPES.has(t));
      if (!types.includes(type)) {
        const has = release ? `v${release.version} has ${types.join(', ') || 'none'}` : 'the app has no release yet';
        const message = `no process type '${type}' to autoscale: ${has}`;
        throw new ApiError('unprocessable', message, [{ field: 'type', rule: 'exists', message }]);
      }
      // the scheduler scales only the type routers send requests to; turning it off is always allowed
      if (wanted && type !== AUTOSCALED_TYPE) {
        const message = `only ${AUTOSCALED_TYPE} autoscales, not '${type}'`;
        throw new ApiError('unprocessable', message, [{ field: 'type', rule: 'autoscaled', message }]);
      }
      const found =
        (await manager.findOne(Formation, { where: { appId: app.id, type } })) ??
        manager.create(Formation, { appId: app.id, type, quantity: 0, ...sizeFields(parseSize(DEFAULT_SIZE)) });
      if (wanted) {
        await checkCapacity(manager, type, wanted.max, parseSize(found.size), 'max');
        Object.assign(found, {
          quantity: Math.min(Math.max(found.quantity, wanted.min), wanted.max),
          ...autoscaleColumns(wanted),
        });
      } else {
        if (isSleeping({ quantity: found.quantity, autoscale: formationAutoscale(found) })) found.quantity = 1;
        Object.assign(found, autoscaleColumns(null));
      }
      return manager.save(Formation, found);
    });
    this.scheduler.kick();
    const line = wanted
      ? `Autoscale of ${type} set to ${describeAutoscale(wanted).replace(/^autoscale /, '')} by ${token.name}`
      : `Autoscale of ${type} turned off by ${token.name}; it stays at ${row.quantity}`;
    await logAppEvent(this.redis, app.id, line);
  }
}

/** The settings as stored, or a 400/422 naming the field that is wrong. */
function autoscaleSettings(dto: AutoscaleDto): Autoscale {
  const idleMs = parseDuration(dto.idle);
  if (idleMs === null) throw ApiError.invalidField('idle', 'duration', `idle must be ${DURATION_RULE}`);
  const settings = {
    min: dto.min,
    max: dto.max,
    concurrency: dto.concurrency,
    idleMs,
    ...(dto.hardLimit === undefined ? {} : { hardLimit: dto.hardLimit }),
  };
  const problems = autoscaleProblems(settings, MAX_QUANTITY);
  const first = problems[0];
  if (first)
    throw new ApiError(
      'unprocessable',
      problems.map((p) => p.message).join('; '),
      problems.map((p) => ({ field: p.field, rule: 'range', message: p.message })),
    );
  return settings;
}

/** The size an update asks for: a size, or a memory amount (a custom size); not both. */
function sizeOf(update: FormationChangeDto): Size | null {
  if (update.size !== undefined && update.memory !== undefined)
    throw ApiError.invalidField('memory', 'conflict', 'give size or memory, not both');
  if (update.size !== undefined) return parseSize(update.size);
  if (update.memory !== undefined) return customSize(update.memory);
  return null;
}

/**
 * Refuses what the nodes could never hold, with the largest count they could (instances of
 * other apps aside: those may leave). Every registered node counts, whatever its state: one
 * that missed a heartbeat may be back in a second, and the answer must not flap with it. With
 * no node registered there is nothing to measure by: the instances wait for one.
 */
async function checkCapacity(
  manager: EntityManager,
  type: string,
  quantity: number,
  size: Size,
  field = 'quantity',
): Promise<void> {
  if (quantity === 0) return;
  const nodes = await manager.find(Node);
  if (nodes.length === 0) return;
  const most = largestCount(nodes, size.memory, { every: true });
  if (quantity > most) {
    const message = `${type}=${quantity}:${size.name} is more than the nodes could ever hold: at most ${most} of ${size.memory} MiB fit on ${nodes.length} node${nodes.length === 1 ? '' : 's'}`;
    throw new ApiError('unprocessable', message, [{ field, rule: 'capacity', message: `at most ${most}` }]);
  }
}

function view(row: Formation, release: Release | null, up: number): FormationView {
  const autoscale = formationAutoscale(row);
  return {
    type: row.type,
    quantity: row.quantity,
    size: row.size,
    memory: row.memory,
    cpuShares: row.cpuShares,
    cpuQuota: row.cpuQuota,
    up,
    waiting: row.waiting,
    waitingReason: row.waitingReason,
    autoscale: autoscale && {
      ...autoscale,
      idle: formatDuration(autoscale.idleMs),
      hardLimit: autoscale.hardLimit ?? null,
    },
    sleeping: isSleeping({ quantity: row.quantity, autoscale }),
    command: release?.processTypes[row.type] ?? null,
    updatedAt: row.updatedAt,
  };
}
