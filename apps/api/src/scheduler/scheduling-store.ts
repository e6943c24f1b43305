/**
 * The reconcile pass's roles over the database (TypeORM): the nodes and their liveness, the
 * desired state it plans from, the committer of its plans, and what the routes are read from.
 * Releases are read and moved only through libs/platform release-lifecycle.ts; every write of a
 * step is one transaction, so a plan that cannot commit leaves nothing behind.
 */
import {
  Addon,
  type Allocation,
  App,
  Domain,
  Formation,
  Instance,
  Node,
  Release,
  addonAllocation,
  currentRelease,
  liveRelease,
  releaseFailed,
  releaseLive,
  releaseWaiting,
  transaction,
} from '@paas/platform';
import { randomUUID } from 'node:crypto';
import { type DataSource, type EntityManager, In, IsNull, Not, type SelectQueryBuilder } from 'typeorm';
import type {
  AppReleases,
  DesiredState,
  NodeRegistry,
  PassApp,
  PassInstance,
  PassNode,
  PassRelease,
  PlanCommitter,
  PlannedApp,
  ServingState,
} from './pass';

/**
 * Columns of instance rows as the database returns them, without building entities: at
 * 1,000 instances a node TypeORM's hydration was most of the cost of a pass's or a
 * heartbeat's reads. Integer, text and null columns read the same on SQLite and PostgreSQL;
 * a boolean does not (0/1 or false/true), a bigint neither (memoryBytes: a string from
 * PostgreSQL; BIGINT_AS_NUMBER converts it) and a date even less, so those are converted by
 * the caller or not read.
 */
export function instanceColumns<K extends keyof Instance & string>(
  em: EntityManager,
  columns: readonly K[],
): SelectQueryBuilder<Instance> {
  const query = em.createQueryBuilder(Instance, 'i');
  columns.forEach((column, k) =>
    k === 0 ? query.select(`i.${column}`, column) : query.addSelect(`i.${column}`, column),
  );
  return query;
}

/** What the pass reads of an instance (PassInstance). */
const PASS_COLUMNS = [
  'id',
  'appId',
  'releaseId',
  'type',
  'number',
  'nodeId',
  'state',
  'desired',
  'size',
  'memory',
  'cpuShares',
  'cpuQuota',
  'replace',
  'error',
  'address',
] as const satisfies readonly (keyof PassInstance)[];

async function passInstances(query: SelectQueryBuilder<Instance>): Promise<PassInstance[]> {
  const rows = await query.getRawMany<PassInstance & { replace: unknown }>();
  return rows.map((r) => ({ ...r, replace: Boolean(r.replace) }));
}

/** Checked first in every transaction that writes a pass's decisions (leader.ts LeaderElector.fence). */
export type Fence = (em: EntityManager) => Promise<void>;

export class SchedulingStore implements NodeRegistry, DesiredState, PlanCommitter, ServingState {
  /** `fence`: what makes a write of a process that no longer leads fail whole; none in specs of one process. */
  constructor(
    private readonly dataSource: DataSource,
    private readonly fence: Fence = async () => undefined,
  ) {}

  // ---------------------------------------------------------------- NodeRegistry

  list(): Promise<PassNode[]> {
    return this.dataSource.manager.find(Node, { order: { name: 'ASC' } });
  }

  async markDown(nodeIds: readonly string[], instanceIds: readonly string[]): Promise<void> {
    await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      for (const id of nodeIds) await em.update(Node, { id }, { state: 'down' });
      for (const id of instanceIds) await em.update(Instance, { id }, { state: 'down' });
    });
  }

  async forget(instanceIds: readonly string[]): Promise<void> {
    await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      for (const id of instanceIds) await em.delete(Instance, { id });
    });
  }

  // ---------------------------------------------------------------- DesiredState

  apps(): Promise<PassApp[]> {
    return this.dataSource.manager.find(App, { order: { name: 'ASC' } });
  }

  async releases(appId: string): Promise<AppReleases> {
    const { manager } = this.dataSource;
    const [target, live] = await Promise.all([currentRelease(manager, appId), liveRelease(manager, appId)]);
    // read after the target: a release and its formation rows commit together, so a target
    // newer than the formation read before it would look complete with no rows, and go live
    const formation = await manager.find(Formation, { where: { appId } });
    return { target, live, formation };
  }

  instances(): Promise<PassInstance[]> {
    return passInstances(instanceColumns(this.dataSource.manager, PASS_COLUMNS));
  }

  async reserved(): Promise<Allocation[]> {
    const addons = await this.dataSource.manager.find(Addon, {
      where: { state: Not('destroying'), nodeId: Not(IsNull()) },
      select: { id: true, nodeId: true, type: true, memory: true, cpuShares: true },
    });
    return addons.map((a) => ({ ...addonAllocation(a), nodeId: a.nodeId as string }));
  }

  async versions(releaseIds: readonly string[]): Promise<Map<string, number>> {
    if (releaseIds.length === 0) return new Map();
    const rows = await this.dataSource.manager.find(Release, {
      where: { id: In([...new Set(releaseIds)]) },
      select: { id: true, version: true },
    });
    return new Map(rows.map((r) => [r.id, r.version]));
  }

  // ---------------------------------------------------------------- PlanCommitter

  async commit(plans: readonly PlannedApp[], at: string): Promise<void> {
    await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      for (const { appId, plan } of plans) {
        for (const s of plan.start) {
          await em.insert(Instance, {
            id: randomUUID(),
            appId,
            releaseId: s.releaseId,
            type: s.type,
            number: s.number,
            nodeId: s.nodeId,
            containerId: null,
            state: 'starting',
            address: null,
            memoryBytes: null,
            desired: 'run',
            size: s.size,
            memory: s.memory,
            cpuShares: s.cpuShares,
            cpuQuota: s.cpuQuota,
            replace: false,
            pid: null,
            restartCount: 0,
            error: null,
          });
        }
        if (plan.goLive) await releaseLive(em, plan.goLive, at);
        if (plan.fail) await releaseFailed(em, plan.fail.releaseId, plan.fail.reason);
      }
    });
  }

  async stop(instanceIds: readonly string[]): Promise<void> {
    await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      // in chunks: a scale from 1,000 to 0 stays inside any database's bound-parameter limit
      for (let i = 0; i < instanceIds.length; i += 500) {
        await em.update(Instance, { id: In(instanceIds.slice(i, i + 500)) }, { desired: 'stop', state: 'stopping' });
      }
    });
  }

  async noteWaiting(releaseId: string, note: string | null): Promise<void> {
    await releaseWaiting(this.dataSource.manager, releaseId, note);
  }

  async noteFormationWaiting(appId: string, type: string, waiting: number, reason: string | null): Promise<void> {
    // the row's updatedAt is when the user last scaled it: the scheduler's note keeps it
    await this.dataSource.manager
      .createQueryBuilder()
      .update(Formation)
      .set({ waiting, waitingReason: reason, updatedAt: () => '"updatedAt"' })
      .where({ appId, type })
      .execute();
  }

  async setQuantity(appId: string, type: string, from: number, to: number): Promise<boolean> {
    return transaction(this.dataSource, async (em) => {
      await this.fence(em);
      const done = await em
        .createQueryBuilder()
        .update(Formation)
        .set({ quantity: to })
        .where({ appId, type, quantity: from })
        .execute();
      return (done.affected ?? 0) > 0;
    });
  }

  // ---------------------------------------------------------------- ServingState

  liveRelease(appId: string): Promise<PassRelease | null> {
    return liveRelease(this.dataSource.manager, appId);
  }

  domains(): Promise<Domain[]> {
    return this.dataSource.manager.find(Domain, { order: { hostname: 'ASC' } });
  }
}
