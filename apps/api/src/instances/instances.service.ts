/**
 * An app's instances: the list the scheduler keeps, and what a user may ask of them, as
 * Heroku's `ps:restart` and `ps:stop`. Nothing is stopped here: a restart marks instances to be
 * replaced and a stop asks one to leave; the scheduler's next pass (asked for at once) does the
 * rest as it always does, the route first, then the drain. A restart is rolling: each marked
 * instance leaves once its replacement serves (in batches when the nodes are full). A stopped
 * instance leaves at once and its formation brings a new one, as a Heroku dyno comes back.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type App, Instance, Node, PROCESS_TYPE, Release, currentRelease, transaction } from '@paas/platform';
import type { Redis } from 'ioredis';
import { type DataSource, type EntityManager, In } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { InstanceView } from './instances.dto';

/** `web` or `web.2`. */
const TARGET = /^([a-z][a-z0-9_-]{0,29})(?:\.(\d{1,5}))?$/;

@Injectable()
export class InstancesService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  async list(app: App): Promise<InstanceView[]> {
    const { manager } = this.dataSource;
    const instances = await manager.find(Instance, { where: { appId: app.id }, order: { type: 'ASC', number: 'ASC' } });
    return views(manager, instances);
  }

  /** Replaces the app's running instances, of one type or one instance (`web`, `web.2`), rolling. */
  async restart(app: App, target: string | undefined, by: string): Promise<InstanceView[]> {
    const marked = await transaction(this.dataSource, async (em) => {
      const chosen = await this.choose(em, app, target);
      for (const i of chosen) await em.update(Instance, { id: i.id }, { replace: true });
      return chosen;
    });
    this.scheduler.kick();
    await logAppEvent(this.redis, app.id, `Restarting ${target ?? 'all processes'} (rolling) by ${by}`);
    return views(this.dataSource.manager, marked);
  }

  /** Stops one instance (`web.2`) now; the formation brings a new one. */
  async stop(app: App, name: string, by: string): Promise<InstanceView> {
    if (!/\.\d+$/.test(name)) throw ApiError.invalidField('name', 'matches', `name must be TYPE.N, e.g. web.1`);
    const stopped = await transaction(this.dataSource, async (em) => {
      const [instance] = await this.choose(em, app, name);
      if (!instance) throw ApiError.notFound(`no instance ${name} on ${app.name}`);
      await em.update(Instance, { id: instance.id }, { desired: 'stop', state: 'stopping' });
      return { ...instance, desired: 'stop' as const, state: 'stopping' as const };
    });
    this.scheduler.kick();
    await logAppEvent(this.redis, app.id, `Stopping ${name} by ${by}`);
    const [view] = await views(this.dataSource.manager, [stopped]);
    return view as InstanceView;
  }

  /** The running instances of the current release that `target` names; 404 when none. */
  private async choose(em: EntityManager, app: App, target: string | undefined): Promise<Instance[]> {
    const match = target === undefined ? null : TARGET.exec(target);
    if (target !== undefined && (!match || !PROCESS_TYPE.test(match[1] ?? ''))) {
      throw ApiError.invalidField(
        'process',
        'matches',
        `process must be TYPE or TYPE.N (e.g. web, web.2), not '${target}'`,
      );
    }
    const release = await currentRelease(em, app.id);
    const running = release
      ? await em.find(Instance, {
          where: { appId: app.id, releaseId: release.id, desired: 'run' },
          order: { type: 'ASC', number: 'ASC' },
        })
      : [];
    const [, type, number] = match ?? [];
    const chosen = running.filter(
      (i) => (type === undefined || i.type === type) && (number === undefined || i.number === Number(number)),
    );
    if (chosen.length === 0) {
      const what =
        target === undefined ? 'instances' : target.includes('.') ? `instance ${target}` : `${target} instances`;
      throw ApiError.notFound(`no running ${what} on ${app.name}`);
    }
    return chosen;
  }
}

async function views(manager: EntityManager, instances: readonly Instance[]): Promise<InstanceView[]> {
  const releaseIds = [...new Set(instances.map((i) => i.releaseId))];
  const nodeIds = [...new Set(instances.flatMap((i) => (i.nodeId ? [i.nodeId] : [])))];
  const [releases, nodes] = await Promise.all([
    releaseIds.length
      ? manager.find(Release, { where: { id: In(releaseIds) }, select: { id: true, version: true } })
      : [],
    nodeIds.length ? manager.find(Node, { where: { id: In(nodeIds) }, select: { id: true, name: true } }) : [],
  ]);
  const versions = new Map(releases.map((r) => [r.id, r.version]));
  const names = new Map(nodes.map((n) => [n.id, n.name]));
  return instances.map((i) => ({
    id: i.id,
    name: `${i.type}.${i.number}`,
    type: i.type,
    number: i.number,
    state: i.state,
    size: i.size,
    release: { id: i.releaseId, version: versions.get(i.releaseId) ?? 0 },
    node: i.nodeId ? (names.get(i.nodeId) ?? null) : null,
    address: i.address,
    containerId: i.containerId,
    memoryBytes: i.memoryBytes,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  }));
}
