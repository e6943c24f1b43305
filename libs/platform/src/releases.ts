/**
 * Releases: numbered, immutable pairs of an image and a config snapshot. Creating one is the
 * only way an app's running code or config changes, so the api (config changes, rollbacks)
 * and the build worker (new builds) both come through here. Their states after that are
 * release-lifecycle.ts's.
 */
import { randomUUID } from 'node:crypto';
import { PaasError } from '@paas/errors';
import type { DataSource, EntityManager } from 'typeorm';
import { isRetryableConflict, lockApp, transaction } from './model/database';
import { App, Build, ConfigVar, Release, type HealthcheckSpec } from './model/entities';
import { canRollBackTo, currentRelease, initialReleaseState, releaseBuilt, releaseCreated } from './release-lifecycle';

/** A build's release reached its commit point after the build was failed (releaseBuild): it is not released. */
export class BuildStoppedError extends PaasError {
  constructor(reason: string) {
    super('conflict', `the build was stopped before its release: ${reason}`);
  }
}

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
  /** Made by a build that still pushes the image and runs the release command (releaseBuilt ends it). */
  readonly building?: boolean;
}

export async function appConfig(manager: EntityManager, appId: string): Promise<Record<string, string>> {
  const rows = await manager.find(ConfigVar, { where: { appId }, order: { key: 'ASC' } });
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
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
    status: initialReleaseState({ building: input.building === true, imageRef: input.imageRef }),
    description: input.description,
    imageRef: input.imageRef,
    imageDigest: input.imageDigest,
    config: input.config ?? (await appConfig(manager, input.appId)),
    processTypes: input.processTypes,
    healthchecks: input.healthchecks ?? null,
    buildId: input.buildId ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
    createdBy: input.createdBy ?? null,
    liveAt: null,
    deployError: null,
    deployNote: null,
  });
  await manager.insert(Release, release);
  await releaseCreated(manager, release);
  return release;
}

/**
 * A build's release ends its build (release-lifecycle's releaseBuilt), in the caller's
 * transaction; returns the release that carries the build's image. A config change during an
 * app's first build makes a release without an image (there is none yet to take) that takes
 * effect before the build ends and supersedes the build's release: the app would run nothing.
 * Heroku makes a build's release when the build ends, with the config then in effect; so here
 * the build's image goes on in a new release with the app's config now (the image-less one
 * stays live until it is up). A build overtaken by a release with an image (a config change or
 * a rollback after the first deploy) stays superseded, as the lifecycle says.
 */
export async function releaseBuild(manager: EntityManager, releaseId: string): Promise<Release> {
  // the commit point holds the app as failLostBuild does: a build failed meanwhile (its job
  // lost, its push gone) makes nothing deployable, even when its worker went on
  const made = await manager.findOne(Release, {
    where: { id: releaseId },
    select: { id: true, appId: true, buildId: true },
  });
  if (made?.buildId) {
    await lockApp(manager, made.appId);
    const build = await manager.findOne(Build, {
      where: { id: made.buildId },
      select: { id: true, status: true, error: true },
    });
    if (build?.status === 'failed') throw new BuildStoppedError(build.error ?? 'the build was failed meanwhile');
  }
  const release = await releaseBuilt(manager, releaseId);
  if (release.status !== 'superseded' || release.imageRef === null) return release;
  const newer = await currentRelease(manager, release.appId);
  if (newer === null || newer.imageRef !== null) return release;
  return insertRelease(manager, {
    appId: release.appId,
    description: release.description,
    imageRef: release.imageRef,
    imageDigest: release.imageDigest,
    processTypes: release.processTypes,
    healthchecks: release.healthchecks,
    buildId: release.buildId,
    createdBy: release.createdBy,
  });
}

export interface ConfigChange {
  readonly set: Record<string, string>;
  readonly unset: readonly string[];
  /** The release's description; by default what changed (`Set A, B config vars`). */
  readonly description?: string;
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
      return await transaction(dataSource, (manager) => applyConfigChange(manager, appId, change, createdBy));
    } catch (err) {
      if (!isRetryableConflict(err) || attempt >= 8) throw err;
    }
  }
}

/**
 * The same within a caller's transaction (an add-on's attachment commits with its config var
 * and release); the caller retries the whole transaction on isRetryableConflict.
 */
export async function applyConfigChange(
  manager: EntityManager,
  appId: string,
  change: ConfigChange,
  createdBy: string | null,
): Promise<Release | null> {
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
    description: change.description ?? parts.join('; '),
    imageRef: current?.imageRef ?? null,
    imageDigest: current?.imageDigest ?? null,
    processTypes: current?.processTypes ?? {},
    healthchecks: current?.healthchecks ?? null,
    createdBy,
  });
}

/** Why a rollback was refused: no such version (`not_found`), or one that cannot come back. */
export class RollbackError extends PaasError {}

/**
 * Heroku's rollback, in the caller's transaction: a new release with vN's image, process types
 * and config. The app's config vars go back to vN's snapshot too, so the next config change
 * starts from what runs. Only a release that passed its build and release command comes back.
 */
export async function rollbackRelease(
  manager: EntityManager,
  app: Pick<App, 'id' | 'name'>,
  version: number,
  createdBy: string | null,
): Promise<Release> {
  await lockApp(manager, app.id);
  const target = await manager.findOne(Release, { where: { appId: app.id, version } });
  if (!target) throw new RollbackError('not_found', `release v${version} of app '${app.name}' not found`);
  if (!canRollBackTo(target)) {
    throw new RollbackError(
      'unprocessable',
      target.imageRef === null
        ? `release v${version} has no image to roll back to`
        : `release v${version} is ${target.status}; only a release that passed its build and release command can come back`,
    );
  }
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
    createdBy,
  });
}
