/**
 * A release's lifecycle: the one place that moves a release from state to state, and the one
 * place that says which release of an app is current and which serves. The build pipeline, the
 * scheduler, config changes, rollbacks and a lost build move releases only through here; the
 * api, the git push and the dashboard read them only through here.
 *
 *   building --> deploying --> live --> superseded
 *      |             |
 *      |             +--> failed | superseded    its deploy failed | a newer release came first
 *      +--> failed | superseded                  release command, lost build | a newer one
 *
 *   building    the image is built; pushing it and the release command are still to come
 *   deploying   the app's target: the scheduler starts its instances while the live one serves
 *   live        the router sends the app to it (the scheduler's word, once its instances are up);
 *               a release without an image (config set before the first push) is live at once:
 *               it has nothing to start
 *   failed      its release command or its deploy failed, or its build was lost (`deployError`)
 *   superseded  a newer release took effect; it served until then when `liveAt` is set
 *
 * An app has at most one deploying and one live release, the deploying one the newer (moves
 * that look at an app's other releases hold the app's row: lockApp). A move is one conditional
 * UPDATE (`WHERE status = <the state it leaves>`) in the caller's transaction, so of two
 * writers racing for one release only one wins: the other gets a ReleaseTransitionError and
 * its transaction rolls back.
 */
import { PaasError } from '@paas/errors';
import { type EntityManager, In, MoreThan } from 'typeorm';
import { lockApp } from './model/database';
import { Formation, Release, type ReleaseStatus } from './model/entities';
import { DEFAULT_SIZE, parseSize, sizeFields } from './sizes';

/** Every legal move, by the state a release leaves. */
export const RELEASE_TRANSITIONS: Readonly<Record<ReleaseStatus, readonly ReleaseStatus[]>> = {
  building: ['deploying', 'superseded', 'failed'],
  deploying: ['live', 'superseded', 'failed'],
  live: ['superseded'],
  failed: [],
  superseded: [],
};

/** The states of a release that passed its build and release command. */
const RELEASED: readonly ReleaseStatus[] = ['deploying', 'live', 'superseded'];
/** The states of the release an app runs or is about to run. */
const IN_EFFECT: readonly ReleaseStatus[] = ['deploying', 'live'];

/** Process types that run once per release instead of being scaled. */
export const ONE_OFF_TYPES: ReadonlySet<string> = new Set(['release']);

export function canMoveRelease(from: ReleaseStatus, to: ReleaseStatus): boolean {
  return RELEASE_TRANSITIONS[from].includes(to);
}

/** A move that is not legal from the state the release is in (or another writer moved it first). */
export class ReleaseTransitionError extends PaasError {
  constructor(
    readonly releaseId: string,
    readonly to: ReleaseStatus,
    readonly from: ReleaseStatus | null,
    version: number | null,
  ) {
    super(
      'conflict',
      `release ${version === null ? releaseId : `v${version}`} cannot become ${to}: ${from === null ? 'it no longer exists' : `it is ${from}`}`,
    );
  }
}

// ------------------------------------------------------------------------------ readers

/** The release the app runs or is about to run: the deploying one, else the live one. */
export function currentRelease(manager: EntityManager, appId: string): Promise<Release | null> {
  return manager.findOne(Release, { where: { appId, status: In([...IN_EFFECT]) }, order: { version: 'DESC' } });
}

/** The release the router sends the app to (or, without an image, the config in effect). */
export function liveRelease(manager: EntityManager, appId: string): Promise<Release | null> {
  return manager.findOne(Release, { where: { appId, status: 'live' }, order: { version: 'DESC' } });
}

/** A release's state now; null when it no longer exists. */
export async function releaseState(manager: EntityManager, releaseId: string): Promise<ReleaseStatus | null> {
  const row = await manager.findOne(Release, { where: { id: releaseId }, select: { id: true, status: true } });
  return row?.status ?? null;
}

/** The release that took effect after this one (what superseded it); null when none did. */
export function supersededBy(manager: EntityManager, release: Release): Promise<Release | null> {
  return manager.findOne(Release, {
    where: { appId: release.appId, version: MoreThan(release.version), status: In([...RELEASED]) },
    order: { version: 'ASC' },
  });
}

/** Whether a rollback may bring this release back: it passed its release command and has an image. */
export function canRollBackTo(release: Release): boolean {
  return RELEASED.includes(release.status) && release.imageRef !== null;
}

// ------------------------------------------------------------------------------ moves

/** The state a new release starts in: building while its build goes on, else in effect at once. */
export function initialReleaseState(input: {
  readonly building: boolean;
  readonly imageRef: string | null;
}): ReleaseStatus {
  return input.building ? 'building' : input.imageRef === null ? 'live' : 'deploying';
}

/**
 * What a release inserted in its initial state does to the others (see initialReleaseState):
 * one in effect supersedes the older deploying (and, when live, live) releases and gives its
 * process types formation rows. Call it in the inserting transaction.
 */
export async function releaseCreated(manager: EntityManager, release: Release): Promise<void> {
  if (release.status === 'building') return;
  await lockApp(manager, release.appId);
  await supersedeOlder(manager, release);
  await alignFormation(manager, release);
}

/**
 * building -> deploying once the image is pushed and the release command passed; -> superseded
 * instead when a newer release took effect meanwhile (that one stays the app's target).
 */
export async function releaseBuilt(manager: EntityManager, releaseId: string): Promise<Release> {
  const release = await find(manager, releaseId, 'deploying');
  // the app's releases hold still until this one is in: a config change or rollback waits
  await lockApp(manager, release.appId);
  const newer = await manager.findOne(Release, {
    where: { appId: release.appId, status: In([...IN_EFFECT]) },
    order: { version: 'DESC' },
  });
  if (newer && newer.version > release.version) return move(manager, release, 'superseded');
  const moved = await move(manager, release, 'deploying');
  await releaseCreated(manager, moved);
  return moved;
}

/** deploying -> live: its instances are up and the router switches to it now (`at`, ISO time). */
export async function releaseLive(manager: EntityManager, releaseId: string, at: string): Promise<Release> {
  const release = await find(manager, releaseId, 'live');
  await lockApp(manager, release.appId);
  const moved = await move(manager, release, 'live', { liveAt: at });
  await supersedeOlder(manager, moved);
  return moved;
}

/**
 * building | deploying -> failed, saying why. The live release, if any, stays current: a failed
 * deploy leaves what served serving.
 */
export async function releaseFailed(manager: EntityManager, releaseId: string, reason: string): Promise<Release> {
  return move(manager, await find(manager, releaseId, 'failed'), 'failed', { deployError: reason });
}

/**
 * What holds a deploying release back (the scheduler cannot place its instances), or null when
 * nothing does; not a move. False when the release is not deploying (the note would be stale).
 */
export async function releaseWaiting(manager: EntityManager, releaseId: string, note: string | null): Promise<boolean> {
  const result = await manager
    .createQueryBuilder()
    .update(Release)
    .set({ deployNote: note })
    .where('id = :id AND status = :status', { id: releaseId, status: 'deploying' })
    .execute();
  return result.affected === 1;
}

/** A lost build's release (still building) fails with the build; null when there is none. */
export async function failBuildingRelease(
  manager: EntityManager,
  buildId: string,
  reason: string,
): Promise<Release | null> {
  const release = await manager.findOne(Release, { where: { buildId, status: 'building' } });
  return release ? move(manager, release, 'failed', { deployError: reason }) : null;
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
        ...sizeFields(parseSize(DEFAULT_SIZE)),
      });
    }
  }
}

async function find(manager: EntityManager, releaseId: string, to: ReleaseStatus): Promise<Release> {
  const release = await manager.findOne(Release, { where: { id: releaseId } });
  if (!release) throw new ReleaseTransitionError(releaseId, to, null, null);
  return release;
}

/** The one write of a release's state: legal from where it is, and only if it is still there. */
async function move(
  manager: EntityManager,
  release: Release,
  to: ReleaseStatus,
  fields: Partial<Pick<Release, 'liveAt' | 'deployError' | 'deployNote'>> = {},
): Promise<Release> {
  const from = release.status;
  // what held it back as it deployed is over once it leaves deploying
  const set = to === 'deploying' ? fields : { deployNote: null, ...fields };
  if (!canMoveRelease(from, to)) throw new ReleaseTransitionError(release.id, to, from, release.version);
  const result = await manager
    .createQueryBuilder()
    .update(Release)
    .set({ status: to, ...set })
    .where('id = :id AND status = :from', { id: release.id, from })
    .execute();
  if (result.affected !== 1) {
    const now = await releaseState(manager, release.id);
    throw new ReleaseTransitionError(release.id, to, now, release.version);
  }
  return Object.assign(release, { status: to }, set);
}

/** The older releases a release in effect replaces: deploying ones, and live ones when it is live. */
async function supersedeOlder(manager: EntityManager, release: Release): Promise<void> {
  const states: ReleaseStatus[] = release.status === 'live' ? ['deploying', 'live'] : ['deploying'];
  const older = await manager.find(Release, { where: { appId: release.appId, status: In(states) } });
  for (const other of older) if (other.version < release.version) await move(manager, other, 'superseded');
}
