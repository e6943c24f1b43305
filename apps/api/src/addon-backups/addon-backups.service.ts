/**
 * PostgreSQL add-on backups (#22): captures taken by the api itself with the host's pg_dump
 * (libs/platform addons/pg-backup.ts) over the add-on's published port, kept as blobs of the
 * api's backups store ($PAAS_ROOT/platform/backups, a content store of its own: the engine's
 * store under $PAAS_ROOT/content is swept by image GC, which would take backups with it), and
 * restored with pg_restore the same way.
 *
 * A capture answers at once with its row `running` and finishes in the background
 * (`succeeded` with digest and size, or `failed` with pg_dump's message). Backups name their
 * add-on and survive its destruction until deleted.
 *
 * Who may: whoever may see the add-on (addonVisibleTo: a token that may use an app attached to it
 * or made it, any unscoped or admin token); the backups of a destroyed add-on, which no app
 * holds any more, only unscoped tokens. Anyone else is answered 404, as for none.
 *
 * Daily captures (`backupHour`) are the scheduler leader's: each term runs a round every
 * minute, fenced by the term (leader.ts), so two apis never both take the day's backup. The
 * newest SCHEDULED_KEPT scheduled backups of an add-on are kept; manual ones until deleted.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ContentStore } from '@paas/content';
import type { Digest } from '@paas/oci';
import {
  Addon,
  AddonAttachment,
  AddonBackup,
  type ApiToken,
  App,
  addonClientTarget,
  addonVisibleTo,
  scopedApps,
  lockAddons,
  transaction,
} from '@paas/platform';
import { type PgTarget, captureBackup, restoreBackup } from '@paas/platform/pg-backup';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type DataSource, type EntityManager, In, IsNull, Not } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { BackupScheduleView, BackupView, RestoreView } from './addon-backups.dto';

/** How often the leader looks for add-ons whose daily backup is due. */
const SCHEDULE_ROUND_MS = 60_000;
/** A scheduled capture that failed is tried again after this long. */
const SCHEDULED_RETRY_MS = 60 * 60 * 1000;
/** Scheduled backups kept per add-on, as Heroku keeps 7 daily ones; older ones go as a new one succeeds. */
export const SCHEDULED_KEPT = 7;
/** A capture `running` this long belongs to an api that died mid-dump: it no longer blocks the next. */
const STALE_RUNNING_MS = 6 * 3600_000;

type Fence = (em: EntityManager) => Promise<void>;

@Injectable()
export class AddonBackupsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('backups');
  private opened: Promise<ContentStore> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Backups this api is restoring now: not deleted meanwhile (their dump is being read). */
  private readonly restoring = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** This term's fence while this api leads the scheduler; null otherwise. */
  private fence: Fence | null = null;
  private readonly onLeadership = (): void => this.termChanged();

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.events.on('leadership', this.onLeadership);
    this.termChanged();
    this.timer = setInterval(() => {
      if (this.fence)
        void this.scheduledRound().catch((err: unknown) => this.logger.warn(`scheduled backups: ${String(err)}`));
    }, SCHEDULE_ROUND_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler.events.off('leadership', this.onLeadership);
    clearInterval(this.timer);
    await this.settled();
  }

  private termChanged(): void {
    const epoch = this.scheduler.leader.epoch;
    this.fence = this.scheduler.leader.leading && epoch !== null ? this.scheduler.leader.fence(epoch) : null;
  }

  /** Resolves once every capture this process started has finished. */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }

  /** The backups store, opened on first use. */
  store(): Promise<ContentStore> {
    this.opened ??= ContentStore.open(join(this.config.paths.root, 'platform', 'backups')).catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  async list(token: ApiToken, name: string): Promise<BackupView[]> {
    const addon = await this.dataSource.manager.findOneBy(Addon, { name });
    if (addon) {
      await this.checkAddon(token, addon);
      return this.backupsWhere({ addonId: addon.id });
    }
    // a destroyed add-on: its backups are still listed under its name
    const kept = addonVisibleTo(token, []) ? await this.backupsWhere({ addonName: name }) : [];
    if (kept.length === 0) throw ApiError.notFound(`add-on '${name}' not found`);
    return kept;
  }

  private async backupsWhere(where: { addonId: string } | { addonName: string }): Promise<BackupView[]> {
    const rows = await this.dataSource.manager.find(AddonBackup, { where, order: { number: 'ASC', createdAt: 'ASC' } });
    return rows.map(view);
  }

  /** Starts a capture of the add-on: its row `running`; the dump goes on in the background. */
  async capture(token: ApiToken, name: string): Promise<BackupView> {
    const addon = await this.postgresAddon(token, name);
    return view(await this.startCapture(addon, 'manual'));
  }

  private async startCapture(addon: Addon, trigger: 'manual' | 'scheduled', fence?: Fence): Promise<AddonBackup> {
    const target = await this.targetOf(addon);
    const backup = await transaction(this.dataSource, async (em) => {
      if (fence) await fence(em);
      // numbers are taken one at a time per add-on
      await lockAddons(em, [addon.id]);
      const running = await em.findOneBy(AddonBackup, { addonId: addon.id, state: 'running' });
      if (running && Date.now() - running.createdAt.getTime() < STALE_RUNNING_MS) {
        throw ApiError.conflict(`${backupName(running)} of ${addon.name} is still running`);
      }
      if (running) {
        await em.update(
          AddonBackup,
          { id: running.id },
          { state: 'failed', error: 'interrupted: the api taking it stopped', finishedAt: new Date().toISOString() },
        );
      }
      const last = await em.findOne(AddonBackup, { where: { addonId: addon.id }, order: { number: 'DESC' } });
      const row = em.create(AddonBackup, {
        id: randomUUID(),
        addonId: addon.id,
        addonName: addon.name,
        addonType: addon.type,
        number: (last?.number ?? 0) + 1,
        state: 'running',
        digest: null,
        size: null,
        trigger,
        error: null,
        finishedAt: null,
      });
      await em.insert(AddonBackup, row);
      return row;
    });
    const work = this.finishCapture(addon, backup, target).finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
    return this.dataSource.manager.findOneByOrFail(AddonBackup, { id: backup.id });
  }

  private async finishCapture(addon: Addon, backup: AddonBackup, target: PgTarget): Promise<void> {
    const name = backupName(backup);
    try {
      const blob = await captureBackup(target, await this.store());
      await this.dataSource.manager.update(
        AddonBackup,
        { id: backup.id },
        { state: 'succeeded', digest: blob.digest, size: blob.size, finishedAt: new Date().toISOString() },
      );
      await this.logToApps(addon.id, `Captured backup ${name} of ${addon.name} (${blob.size} bytes)`);
      if (backup.trigger === 'scheduled') {
        await this.pruneScheduled(addon.id).catch((err: unknown) =>
          this.logger.warn(`pruning the scheduled backups of ${addon.name}: ${String(err)}`),
        );
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await this.dataSource.manager
        .update(AddonBackup, { id: backup.id }, { state: 'failed', error, finishedAt: new Date().toISOString() })
        .catch((e: unknown) => this.logger.warn(`backup ${backup.id}: cannot record its failure: ${String(e)}`));
      await this.logToApps(addon.id, `Backup ${name} of ${addon.name} failed: ${error}`);
    }
  }

  /** The dump of a succeeded backup, to stream out. */
  async download(token: ApiToken, id: string): Promise<{ backup: BackupView; stream: Readable }> {
    const backup = await this.backupFor(token, id);
    if (backup.state !== 'succeeded' || backup.digest === null) {
      throw ApiError.unprocessable(`${backupName(backup)} of ${backup.addonName} is ${backup.state}: it has no dump`);
    }
    const stream = await (await this.store()).createReadStream(backup.digest as Digest);
    return { backup: view(backup), stream };
  }

  /**
   * Restores a backup (of this or another postgres add-on) into the add-on, replacing what it
   * holds, in one transaction; answers when pg_restore is done.
   */
  async restore(token: ApiToken, name: string, backupId: string, confirm: string): Promise<RestoreView> {
    const addon = await this.postgresAddon(token, name);
    const backup = await this.backupFor(token, backupId);
    if (backup.addonType !== 'postgres') {
      throw ApiError.invalidField(
        'backup',
        'addonType',
        `${backupName(backup)} of ${backup.addonName} is a ${backup.addonType} backup; ${addon.name} is a postgres add-on`,
      );
    }
    if (backup.state !== 'succeeded' || backup.digest === null) {
      throw ApiError.unprocessable(
        `${backupName(backup)} of ${backup.addonName} is ${backup.state}: only a succeeded backup restores`,
      );
    }
    const apps = await this.attachedApps(addon.id);
    if (confirm !== addon.name && !apps.some((a) => a.name === confirm)) {
      throw ApiError.invalidField(
        'confirm',
        'confirm',
        `confirm must be ${[addon.name, ...apps.map((a) => a.name)].map((n) => `'${n}'`).join(' or ')}: restoring replaces the data of ${addon.name}`,
      );
    }
    this.restoring.add(backup.id);
    try {
      await restoreBackup(backup.digest as Digest, await this.targetOf(addon), await this.store());
    } finally {
      this.restoring.delete(backup.id);
    }
    await this.logToApps(addon.id, `Restored backup ${backupName(backup)} of ${backup.addonName} into ${addon.name}`);
    return { addon: addon.name, backup: view(backup) };
  }

  /** Removes a backup and its dump (unless another backup has the same bytes). */
  async remove(token: ApiToken, id: string): Promise<BackupView> {
    const backup = await this.backupFor(token, id);
    if (backup.state === 'running' && Date.now() - backup.createdAt.getTime() < STALE_RUNNING_MS) {
      throw ApiError.conflict(`${backupName(backup)} of ${backup.addonName} is still running`);
    }
    if (this.restoring.has(backup.id)) {
      throw ApiError.conflict(`${backupName(backup)} of ${backup.addonName} is being restored`);
    }
    await this.drop(backup);
    return view(backup);
  }

  /** The row, then its blob unless another backup has the same bytes (dumps of one second are equal). */
  private async drop(backup: AddonBackup): Promise<void> {
    await this.dataSource.manager.delete(AddonBackup, { id: backup.id });
    if (backup.digest === null) return;
    const shared = await this.dataSource.manager.countBy(AddonBackup, { digest: backup.digest });
    if (shared === 0) await (await this.store()).delete(backup.digest as Digest);
  }

  /**
   * Keeps the newest SCHEDULED_KEPT scheduled backups of the add-on that succeeded, and the
   * failed ones newer than the newest of those (what went wrong since): failures never push a
   * good backup out.
   */
  private async pruneScheduled(addonId: string): Promise<void> {
    const { manager } = this.dataSource;
    const good = await manager.find(AddonBackup, {
      where: { addonId, trigger: 'scheduled', state: 'succeeded' },
      order: { number: 'DESC' },
    });
    const newest = good[0];
    const failed = newest
      ? await manager.find(AddonBackup, { where: { addonId, trigger: 'scheduled', state: 'failed' } })
      : [];
    const old = [...good.slice(SCHEDULED_KEPT), ...failed.filter((b) => b.number < (newest?.number ?? 0))];
    for (const backup of old) await this.drop(backup);
  }

  async schedule(token: ApiToken, name: string, hour: number | null): Promise<BackupScheduleView> {
    const addon = await this.postgresAddon(token, name);
    await this.dataSource.manager.update(Addon, { id: addon.id }, { backupHour: hour });
    return { addon: addon.name, hour };
  }

  /**
   * The leader's look for due daily backups: a postgres add-on that is up, past its backup hour
   * (UTC) today, without a scheduled backup taken since then, gets one. Returns how many started.
   */
  async scheduledRound(now = new Date()): Promise<number> {
    const fence = this.fence;
    if (!fence) return 0;
    const addons = await this.dataSource.manager.find(Addon, {
      where: { type: 'postgres', state: 'up', backupHour: Not(IsNull()) },
    });
    let started = 0;
    for (const addon of addons) {
      const hour = addon.backupHour as number;
      if (now.getUTCHours() < hour) continue;
      const dueSince = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour);
      const last = await this.dataSource.manager.findOne(AddonBackup, {
        where: { addonId: addon.id, trigger: 'scheduled' },
        order: { number: 'DESC' },
      });
      // taken today, or failed within the hour (tried again then, not only tomorrow)
      const since = last?.createdAt.getTime() ?? 0;
      if (last && last.state !== 'failed' && since >= dueSince) continue;
      if (last?.state === 'failed' && now.getTime() - since < SCHEDULED_RETRY_MS) continue;
      try {
        await this.startCapture(addon, 'scheduled', fence);
        started++;
      } catch (err) {
        this.logger.warn(`scheduled backup of ${addon.name}: ${(err as Error).message}`);
      }
    }
    return started;
  }

  /** A postgres add-on the token may use. */
  private async postgresAddon(token: ApiToken, name: string): Promise<Addon> {
    const addon = await this.dataSource.manager.findOneBy(Addon, { name });
    if (!addon) throw ApiError.notFound(`add-on '${name}' not found`);
    await this.checkAddon(token, addon);
    if (addon.type !== 'postgres') {
      throw ApiError.invalidParams(
        `${addon.name} is a ${addon.type} add-on: backups are for postgres add-ons (redis keeps its data in its volume's AOF)`,
      );
    }
    return addon;
  }

  /** A token that may not use the add-on learns nothing of it: 404, as for none (addonVisibleTo). */
  private async checkAddon(token: ApiToken, addon: Addon): Promise<void> {
    if (!(await this.visible(token, addon))) throw ApiError.notFound(`add-on '${addon.name}' not found`);
  }

  private async visible(token: ApiToken, addon: Addon): Promise<boolean> {
    if (addonVisibleTo(token, [])) return true;
    const owner = addon.appId ? await this.dataSource.manager.findOneBy(App, { id: addon.appId }) : null;
    const apps = [...(await this.attachedApps(addon.id)), ...(owner ? [owner] : [])];
    return addonVisibleTo(token, await scopedApps(this.dataSource.manager, apps));
  }

  private async backupFor(token: ApiToken, id: string): Promise<AddonBackup> {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
    const backup = uuid ? await this.dataSource.manager.findOneBy(AddonBackup, { id: id.toLowerCase() }) : null;
    const addon = backup && (await this.dataSource.manager.findOneBy(Addon, { id: backup.addonId }));
    // a destroyed add-on's backups only for tokens that may see every add-on
    if (!backup || !(addon ? await this.visible(token, addon) : addonVisibleTo(token, []))) {
      throw ApiError.notFound(`backup '${id}' not found`);
    }
    return backup;
  }

  private async attachedApps(addonId: string): Promise<App[]> {
    const attachments = await this.dataSource.manager.findBy(AddonAttachment, { addonId });
    if (attachments.length === 0) return [];
    return this.dataSource.manager.find(App, {
      where: { id: In(attachments.map((a) => a.appId)) },
      order: { name: 'ASC' },
    });
  }

  /** Where the api reaches the add-on: its node's service address and its published port. */
  private async targetOf(addon: Addon): Promise<PgTarget> {
    if (addon.state !== 'up') {
      throw ApiError.unprocessable(
        `${addon.name} is ${addon.state}${addon.error ? ` (${addon.error})` : ''}: backups need it up`,
      );
    }
    const target = await addonClientTarget(this.dataSource.manager, addon);
    if (!target) throw ApiError.unprocessable(`${addon.name}'s node has no service address`);
    return target;
  }

  private async logToApps(addonId: string, line: string): Promise<void> {
    for (const app of await this.attachedApps(addonId).catch(() => [] as App[])) {
      await logAppEvent(this.redis, app.id, line);
    }
  }
}

export function backupName(backup: Pick<AddonBackup, 'number'>): string {
  return `b${String(backup.number).padStart(3, '0')}`;
}

function view(backup: AddonBackup): BackupView {
  return {
    id: backup.id,
    name: backupName(backup),
    number: backup.number,
    addon: backup.addonName,
    addonType: backup.addonType,
    state: backup.state,
    digest: backup.digest,
    size: backup.size === null ? null : Number(backup.size),
    trigger: backup.trigger,
    error: backup.error,
    createdAt: backup.createdAt,
    finishedAt: backup.finishedAt,
  };
}
