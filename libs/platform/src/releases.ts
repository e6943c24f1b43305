/**
 * Releases: numbered, immutable pairs of an image and a config snapshot. Creating one is the
 * only way an app's running code or config changes, so the api (config changes, rollbacks)
 * and the build worker (new builds) both come through here.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { isRetryableConflict, lockApp, transaction } from './model/database';
import { App, ConfigVar, Formation, Release, type HealthcheckSpec, type ReleaseStatus } from './model/entities';

/** Process types that run once per release instead of being scaled. */
export const ONE_OFF_TYPES: ReadonlySet<string> = new Set(['release']);

export interface NewRelease {
  readonly appId: string;
  readonly description: string;
  readonly imageRef: string | null;
  readonly imageDigest: string | null;
  readonly processTypes: Record<string, string>;
  readonly healthchecks?: Record<string, HealthcheckSpec[]> | null;
  /** The config snapshot; the app's current config vars when omitted. */
  readonly config?: Record<string, string>;
  readonly buildId?: string | null;
  /** Same key, same release: a retried job gets the release its first attempt made. */
  readonly idempotencyKey?: string | null;
  readonly createdBy?: string | null;
  /** `pending` while a release phase still has to pass; `succeeded` makes it current. */
  readonly status?: ReleaseStatus;
}

export async function appConfig(manager: EntityManager, appId: string): Promise<Record<string, string>> {
  const rows = await manager.find(ConfigVar, { where: { appId }, order: { key: 'ASC' } });
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

/** The release that serves: the newest one that succeeded. */
export async function currentRelease(manager: EntityManager, appId: string): Promise<Release | null> {
  return manager.findOne(Release, { where: { appId, status: 'succeeded' }, order: { version: 'DESC' } });
}

export async function findApp(manager: EntityManager, nameOrId: string): Promise<App | null> {
  return (
    (await manager.findOne(App, { where: { name: nameOrId } })) ??
    (/^[0-9a-f-]{36}$/.test(nameOrId) ? manager.findOne(App, { where: { id: nameOrId } }) : null)
  );
}

/**
 * Creates the next release (v1, v2, ...) of an app. Concurrent creators race for the version
 * number; the loser of a unique-constraint race tries the next number. With an idempotency
 * key, an existing release with that key is returned instead of a new one.
 */
export async function createRelease(dataSource: DataSource, input: NewRelease): Promise<Release> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await transaction(dataSource, (manager) => insertRelease(manager, input));
    } catch (err) {
      if (!isRetryableConflict(err) || attempt >= 8) throw err;
      if (input.idempotencyKey) {
        const existing = await dataSource.manager.findOne(Release, { where: { idempotencyKey: input.idempotencyKey } });
        if (existing) return existing;
      }
    }
  }
}

/** The same within a caller's transaction (config changes commit vars and release together). */
export async function insertRelease(manager: EntityManager, input: NewRelease): Promise<Release> {
  if (input.idempotencyKey) {
    const existing = await manager.findOne(Release, { where: { idempotencyKey: input.idempotencyKey } });
    if (existing) return existing;
  }
  const newest = await manager.findOne(Release, { where: { appId: input.appId }, order: { version: 'DESC' } });
  const release = manager.create(Release, {
    id: randomUUID(),
    appId: input.appId,
    version: (newest?.version ?? 0) + 1,
    status: input.status ?? 'succeeded',
    description: input.description,
    imageRef: input.imageRef,
    imageDigest: input.imageDigest,
    config: input.config ?? (await appConfig(manager, input.appId)),
    processTypes: input.processTypes,
    healthchecks: input.healthchecks ?? null,
    buildId: input.buildId ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
    createdBy: input.createdBy ?? null,
  });
  await manager.insert(Release, release);
  if (release.status === 'succeeded') await alignFormation(manager, release);
  return release;
}

/** Marks a pending release (its release phase passed or failed). */
export async function settleRelease(
  dataSource: DataSource,
  releaseId: string,
  status: 'succeeded' | 'failed',
): Promise<Release> {
  return transaction(dataSource, async (manager) => {
    await manager.update(Release, { id: releaseId }, { status });
    const release = await manager.findOneOrFail(Release, { where: { id: releaseId } });
    if (status === 'succeeded') await alignFormation(manager, release);
    return release;
  });
}

/**
 * Gives every scalable process type of a release a formation row (web starts at 1 as on
 * Heroku, others at 0) and drops rows of types the release no longer has.
 */
export async function alignFormation(manager: EntityManager, release: Release): Promise<void> {
  const types = Object.keys(release.processTypes).filter((type) => !ONE_OFF_TYPES.has(type));
  const rows = await manager.find(Formation, { where: { appId: release.appId } });
  const have = new Set(rows.map((row) => row.type));
  for (const row of rows) {
    if (!types.includes(row.type)) await manager.delete(Formation, { appId: release.appId, type: row.type });
  }
  for (const type of types) {
    if (!have.has(type)) {
      await manager.insert(Formation, {
        appId: release.appId,
        type,
        quantity: type === 'web' ? 1 : 0,
        memory: 512,
        cpu: 1000,
      });
    }
  }
}

export interface ConfigChange {
  readonly set: Record<string, string>;
  readonly unset: readonly string[];
}

/**
 * Applies a config change and, when anything changed, makes a release with the new config
 * (and the current release's image), in one transaction. Returns the release or null.
 */
export async function changeConfig(
  dataSource: DataSource,
  appId: string,
  change: ConfigChange,
  createdBy: string | null,
): Promise<Release | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await transaction(dataSource, async (manager) => {
        await lockApp(manager, appId);
        const before = await appConfig(manager, appId);
        const set = Object.entries(change.set).filter(([key, value]) => before[key] !== value);
        const unset = change.unset.filter((key) => key in before && !(key in change.set));
        if (set.length === 0 && unset.length === 0) return null;
        for (const [key, value] of set) await manager.save(ConfigVar, { appId, key, value });
        for (const key of unset) await manager.delete(ConfigVar, { appId, key });
        const current = await currentRelease(manager, appId);
        const parts = [
          ...(set.length ? [`Set ${set.map(([key]) => key).join(', ')} config vars`] : []),
          ...(unset.length ? [`Remove ${unset.join(', ')} config vars`] : []),
        ];
        return insertRelease(manager, {
          appId,
          description: parts.join('; '),
          imageRef: current?.imageRef ?? null,
          imageDigest: current?.imageDigest ?? null,
          processTypes: current?.processTypes ?? {},
          healthchecks: current?.healthchecks ?? null,
          createdBy,
        });
      });
    } catch (err) {
      if (!isRetryableConflict(err) || attempt >= 8) throw err;
    }
  }
}
