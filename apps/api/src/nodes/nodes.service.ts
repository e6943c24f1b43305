/**
 * The control plane's side of the agent protocol (libs/platform scheduling/protocol.ts):
 * registration, heartbeats (instance states in, the node's desired set out) and draining.
 * Heartbeats run through the scheduler's `serial`, so a pass never plans on half a report.
 *
 * At rest a heartbeat costs one node read and one node update: an empty delta loads no
 * instance row, and the desired set (releases, apps, env) is read and built only when the
 * node's desired generation differs from the one the agent echoes. The hot reads (the rows a report is
 * compared with, the desired set) select only their columns and build no entity:
 * at 1,000 instances a node TypeORM's hydration was most of a heartbeat's cost.
 *
 * Add-ons (libs/platform addons.ts) ride the same protocol: a node's set holds its add-ons as
 * entries with `addon`, its app instances carry the `reach` of their apps' attachments, and
 * reports under an add-on's id update its row. A destroyed add-on's volume is named in
 * `removeVolumes` of every answer that carries the set (destroying it moved the generation),
 * and its row goes when the node says it removed it (`removedVolumes`).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Addon,
  AddonAttachment,
  ApiToken,
  App,
  BIGINT_AS_NUMBER,
  DESIRED_SET_COLUMNS,
  Formation,
  type DesiredAddonRow,
  type DesiredInstance,
  type HeartbeatReply,
  type HeartbeatRequest,
  INSTANCE_PORT,
  Instance,
  type InstanceReport,
  Node,
  type NodeState,
  type RegisterAnswer,
  type RegisterRequest,
  Release,
  type ServiceEndpoint,
  bumpNodes,
  deployCheck,
  desiredAddonInstance,
  memoryMoved,
  nodesOfApps,
  reachOfApps,
  reportedAddonState,
  transaction,
  wakeCheck,
} from '@paas/platform';
import { createHash, randomUUID } from 'node:crypto';
import { type DataSource, type EntityManager, In, IsNull, Not, type SelectQueryBuilder } from 'typeorm';
import { ApiError } from '../common/api-error';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import { instanceColumns } from '../scheduler/scheduling-store';
import type { NodeView, RemovedNodeView } from './nodes.dto';

/** What a report is compared with: an instance row's columns the agent reports on. */
const REPORTED_COLUMNS = [
  'id',
  'appId',
  'releaseId',
  'type',
  'number',
  'desired',
  'state',
  'containerId',
  'address',
  'pid',
  'memoryBytes',
  'restartCount',
  'error',
] as const;
type ReportedRow = Pick<Instance, (typeof REPORTED_COLUMNS)[number]>;

/** The instance columns the desired set is made of (migrations.ts DESIRED_SET_COLUMNS move its generation). */
const DESIRED_COLUMNS = [
  'id',
  'appId',
  'releaseId',
  'type',
  'number',
  'size',
  'memory',
  'cpuShares',
  'cpuQuota',
] as const satisfies readonly ('id' | (typeof DESIRED_SET_COLUMNS)[number])[];

/** Some columns of a node's instance rows, without entities (instanceColumns). */
function nodeInstances<K extends keyof Instance & string>(
  em: EntityManager,
  columns: readonly K[],
  nodeId: string,
): SelectQueryBuilder<Instance> {
  return instanceColumns(em, columns).where('i.nodeId = :nodeId', { nodeId });
}

type DesiredRow = Pick<Instance, (typeof DESIRED_COLUMNS)[number]>;

/** What of an add-on row its entry in the set and its reports need. */
const ADDON_COLUMNS = [
  'id',
  'name',
  'type',
  'appId',
  'size',
  'memory',
  'cpuShares',
  'volume',
  'port',
  'password',
  'state',
  'readyAt',
] as const satisfies readonly (keyof Addon)[];

/** What a report of an add-on's container is compared with. */
const ADDON_REPORTED = ['id', 'name', 'appId', 'state', 'containerId', 'restartCount', 'error', 'readyAt'] as const;
type AddonReported = Pick<Addon, (typeof ADDON_REPORTED)[number]>;

/**
 * A node's desired set as read: its instance rows, the names of their apps by id, the reach of
 * those apps, its add-ons, and the volumes of its destroyed add-ons.
 */
interface DesiredRows {
  readonly rows: readonly DesiredRow[];
  readonly apps: ReadonlyMap<string, string>;
  readonly reach: ReadonlyMap<string, ServiceEndpoint[]>;
  readonly addons: readonly DesiredAddonRow[];
  readonly removeVolumes: readonly string[];
}

function nodeView(node: Node): NodeView {
  const { id, name, address, memory, cpus, overcommit, state, lastHeartbeatAt, createdAt } = node;
  return { id, name, address, memory, cpus, overcommit, state, lastHeartbeatAt, createdAt };
}

@Injectable()
export class NodesService {
  private readonly logger = new Logger('nodes');

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async list(): Promise<NodeView[]> {
    return (await this.dataSource.manager.find(Node, { order: { name: 'ASC' } })).map(nodeView);
  }

  private async find(name: string): Promise<Node> {
    const node = await this.dataSource.manager.findOne(Node, { where: { name } });
    if (!node) throw ApiError.notFound(`node '${name}' not found`);
    return node;
  }

  /** An agent starts: the node is made or updated (a down node is up again; a draining one stays so). */
  async register(request: RegisterRequest): Promise<RegisterAnswer> {
    const node = await this.scheduler.serial(() =>
      transaction(this.dataSource, async (em) => {
        const now = new Date().toISOString();
        const offer = {
          address: request.address,
          serviceAddress: request.serviceAddress ?? null,
          memory: request.memory,
          cpus: request.cpus,
          overcommit: request.overcommit ?? 100,
        };
        const existing = await em.findOne(Node, { where: { name: request.name } });
        if (existing) {
          const state: NodeState = existing.state === 'draining' ? 'draining' : 'up';
          await em.update(Node, { id: existing.id }, { ...offer, state, lastHeartbeatAt: now });
          if (existing.serviceAddress !== offer.serviceAddress) await this.serviceAddressMoved(em, existing);
          return { ...existing, ...offer, state };
        }
        const created = em.create(Node, {
          id: randomUUID(),
          name: request.name,
          ...offer,
          state: 'up',
          lastHeartbeatAt: now,
        });
        await em.insert(Node, created);
        return created;
      }),
    );
    this.logger.log(
      `node ${node.name} registered: ${node.address}, ${node.memory} MiB (x${node.overcommit / 100}), ${node.cpus / 1000} CPU${request.version ? `, agent ${request.version}` : ''}`,
    );
    this.scheduler.kick();
    return {
      node: { id: node.id, name: node.name, state: node.state },
      heartbeatMs: this.config.scheduler.heartbeatMs,
    };
  }

  /**
   * A node's add-ons are reached at another address now: the instances of the apps attached to
   * them get the new one in their `reach`. (The apps' URL config vars keep the address they were
   * made with: a service address should not move while add-ons use it.)
   */
  private async serviceAddressMoved(em: EntityManager, node: Node): Promise<void> {
    const addonIds = (await em.find(Addon, { where: { nodeId: node.id }, select: { id: true } })).map((a) => a.id);
    if (addonIds.length === 0) return;
    const appIds = (await em.find(AddonAttachment, { where: { addonId: In(addonIds) }, select: { appId: true } })).map(
      (a) => a.appId,
    );
    await bumpNodes(em, await nodesOfApps(em, appIds));
    this.logger.warn(
      `node ${node.name}'s service address moved from ${node.serviceAddress ?? 'none'}: the config vars of its add-ons' apps still name the old one`,
    );
  }

  /**
   * Records what the agent says and answers with what its node should run: the whole set, or
   * null when the agent's `desiredVersion` is still the set's.
   */
  async heartbeat(name: string, request: HeartbeatRequest): Promise<HeartbeatReply> {
    const full = request.full ?? true;
    const { node, changed, lines, back } = await this.scheduler.serial(() =>
      this.record(name, request.instances, full, request.gone ?? [], request.removedVolumes ?? []),
    );
    for (const { appId, line } of lines) await this.scheduler.log(appId, line);
    if (changed) this.scheduler.kick();
    const common = {
      node: { id: node.id, name: node.name, state: node.state },
      registry: this.config.registry,
      heartbeatMs: this.config.scheduler.heartbeatMs,
      drainMs: this.config.scheduler.drainMs,
      // while the node was down the scheduler may have moved what its rows say
      fullReport: back && !full,
    };
    // The version names the generation read before the set: a set read later is as new or
    // newer, and a newer one only means the next heartbeat gets it again.
    const desiredVersion = this.desiredVersion(node);
    if (request.desiredVersion === desiredVersion) return { ...common, desiredVersion, instances: null };
    const rows = await this.desiredRows(node);
    return {
      ...common,
      desiredVersion,
      instances: await this.desired(rows),
      ...(rows.removeVolumes.length > 0 ? { removeVolumes: rows.removeVolumes } : {}),
    };
  }

  /**
   * Records a heartbeat's reports: a full one names every instance the node has (a row it
   * lacks lost its container, or was stopped and removed); a delta names only changes and
   * the instances that left (`gone`: as a full report lacking them), and an empty one loads
   * no row at all.
   */
  private async record(
    name: string,
    reports: readonly InstanceReport[],
    full: boolean,
    goneIds: readonly string[],
    removedVolumes: readonly string[],
  ): Promise<{ node: Node; changed: boolean; back: boolean; lines: { appId: string; line: string }[] }> {
    const lines: { appId: string; line: string }[] = [];
    let changed = false;
    let back = false;
    const node = await transaction(this.dataSource, async (em) => {
      const node = await em.findOne(Node, { where: { name } });
      if (!node) throw ApiError.notFound(`node '${name}' not found: register it first`);
      back = node.state === 'down';
      node.lastHeartbeatAt = new Date().toISOString();
      if (back) node.state = 'up';
      await em.update(Node, { id: node.id }, { lastHeartbeatAt: node.lastHeartbeatAt, state: node.state });
      if (back) {
        this.logger.log(`node ${node.name} is back up`);
        changed = true;
      }
      const reported = new Map(reports.map((r) => [r.id, r]));
      // an id also reported is still here; one the node does not have is ignored below
      const gone = new Set(goneIds.filter((id) => !reported.has(id)));
      if (removedVolumes.length > 0) {
        const deleted = await em.delete(Addon, {
          nodeId: node.id,
          state: 'destroying',
          volume: In([...removedVolumes]),
        });
        // a new set without them, in this very answer: the agent stops removing what is gone
        if (deleted.affected) await this.newSet(em, node);
      }
      if (!full && reports.length === 0 && gone.size === 0) return node;
      await this.recordAddons(em, node, reported, full, gone, lines);
      const query = nodeInstances(em, REPORTED_COLUMNS, node.id);
      if (!full) query.andWhere('i.id IN (:...ids)', { ids: [...reported.keys(), ...gone] });
      // raw: a bigint (memoryBytes) comes back from PostgreSQL as a string
      const rows = (await query.getRawMany<ReportedRow>()).map((r) => ({
        ...r,
        memoryBytes: BIGINT_AS_NUMBER.from(r.memoryBytes) as number | null,
      }));
      // what to tell the apps' logs, labelled with release versions read only when there is any
      const said: { row: ReportedRow; line: (label: string) => string }[] = [];
      const removed: string[] = [];
      for (const row of rows) {
        const report = reported.get(row.id);
        if (!report) {
          if (!full && !gone.has(row.id)) continue;
          if (row.desired === 'stop') {
            // its agent stopped and removed it: the end of the "Stopping" the scheduler said
            removed.push(row.id);
            said.push({ row, line: (label) => `${label} stopped on ${node.name}` });
            changed = true;
          } else if (row.containerId !== null) {
            // the container is gone from under its agent: it will make a new one
            await em.update(
              Instance,
              { id: row.id },
              { state: 'starting', containerId: null, address: null, pid: null },
            );
            said.push({
              row,
              line: (label) => `${label} on ${node.name} lost its container; starting it again`,
            });
            changed = true;
          }
          continue;
        }
        const state = row.desired === 'stop' ? 'stopping' : report.state;
        const update: Partial<Instance> = {};
        if (state !== row.state) update.state = state;
        if (report.containerId !== row.containerId) update.containerId = report.containerId;
        if (report.address !== row.address) update.address = report.address;
        if (report.pid !== (row.pid ?? 0)) update.pid = report.pid;
        if (report.restartCount !== row.restartCount) update.restartCount = report.restartCount;
        if (report.error !== row.error) update.error = report.error;
        // written when it moved by more than a few percent, not on every sample
        if (memoryMoved(row.memoryBytes, report.memoryBytes)) update.memoryBytes = report.memoryBytes;
        if (Object.keys(update).length === 0) continue;
        await em.update(Instance, { id: row.id }, update);
        if (update.state !== undefined || update.address !== undefined) changed = true;
        if (update.state === 'up') {
          said.push({
            row,
            line: (label) => `${label} is up on ${node.name}${report.address ? ` at ${report.address}` : ''}`,
          });
        } else if (update.state === 'crashed') {
          said.push({
            row,
            line: (label) => `${label} crashed on ${node.name}: ${report.error ?? 'it exited'}`,
          });
        } else if (update.restartCount !== undefined && row.state === 'up') {
          said.push({
            row,
            line: (label) => `${label} was restarted on ${node.name} (${report.restartCount} restarts)`,
          });
        }
      }
      for (let i = 0; i < removed.length; i += 500) await em.delete(Instance, { id: In(removed.slice(i, i + 500)) });
      if (said.length > 0) {
        const releaseIds = [...new Set(said.map(({ row }) => row.releaseId))];
        const versions = new Map(
          (await em.find(Release, { where: { id: In(releaseIds) }, select: { id: true, version: true } })).map((r) => [
            r.id,
            r.version,
          ]),
        );
        for (const { row, line } of said) {
          lines.push({
            appId: row.appId,
            line: line(`${row.type}.${row.number} (v${versions.get(row.releaseId) ?? '?'})`),
          });
        }
      }
      return node;
    });
    return { node, changed, back, lines };
  }

  /** The instance rows the node should run (the columns the set is made of) and their apps' names. */
  private async desiredRows(node: Node): Promise<DesiredRows> {
    const { manager } = this.dataSource;
    const rows = await nodeInstances(manager, DESIRED_COLUMNS, node.id)
      .andWhere('i.desired = :desired', { desired: 'run' })
      .orderBy('i.createdAt', 'ASC')
      .getRawMany<DesiredRow>();
    const appIds = [...new Set(rows.map((r) => r.appId))];
    const apps = appIds.length
      ? await manager.find(App, { where: { id: In(appIds) }, select: { id: true, name: true } })
      : [];
    const addons = await manager.find(Addon, {
      where: { nodeId: node.id },
      select: Object.fromEntries(ADDON_COLUMNS.map((c) => [c, true])),
      order: { name: 'ASC' },
    });
    return {
      rows,
      apps: new Map(apps.map((a) => [a.id, a.name])),
      reach: await reachOfApps(manager, appIds),
      addons: addons.filter((a) => a.state !== 'destroying'),
      removeVolumes: addons.filter((a) => a.state === 'destroying').map((a) => a.volume),
    };
  }

  /**
   * Records the reports of the node's add-on containers (as record does its instances'): a
   * full report lacking one with a container, or a `gone` naming it, means it lost its
   * container and its agent makes a new one.
   */
  private async recordAddons(
    em: EntityManager,
    node: Node,
    reported: ReadonlyMap<string, InstanceReport>,
    full: boolean,
    gone: ReadonlySet<string>,
    lines: { appId: string; line: string }[],
  ): Promise<void> {
    const query = em
      .createQueryBuilder(Addon, 'a')
      .select(ADDON_REPORTED.map((c) => `a.${c}`))
      .where('a.nodeId = :nodeId', { nodeId: node.id })
      .andWhere('a.state <> :destroying', { destroying: 'destroying' });
    if (!full) {
      const ids = [...reported.keys(), ...gone];
      if (ids.length === 0) return;
      query.andWhere('a.id IN (:...ids)', { ids });
    }
    const rows: AddonReported[] = await query.getMany();
    for (const row of rows) {
      const report = reported.get(row.id);
      const say = (line: string): void => {
        if (row.appId) lines.push({ appId: row.appId, line: `${row.name} ${line}` });
      };
      if (!report) {
        if (row.containerId === null) continue;
        await em.update(Addon, { id: row.id }, { state: 'creating', containerId: null });
        say(`on ${node.name} lost its container; starting it again`);
        continue;
      }
      const update: Partial<Addon> = {};
      const state = reportedAddonState(report.state, report.final);
      if (state !== null && state !== row.state) update.state = state;
      if (state === 'up' && row.readyAt === null) update.readyAt = new Date().toISOString();
      if (report.containerId !== row.containerId) update.containerId = report.containerId;
      if (report.restartCount !== row.restartCount) update.restartCount = report.restartCount;
      if (report.error !== row.error) update.error = report.error;
      if (Object.keys(update).length === 0) continue;
      await em.update(Addon, { id: row.id }, update);
      // its entry says `fresh` no more: from now on the node never makes its volume again
      if (update.readyAt) await this.newSet(em, node);
      if (update.state === 'up') say(`is up on ${node.name}`);
      else if (update.state === 'crashed') say(`crashed on ${node.name}: ${report.error ?? 'it exited'}`);
      else if (update.state === 'failed') say(`failed on ${node.name}: ${report.error ?? 'it cannot run'}`);
    }
  }

  /** Moves the node's set to a new generation, which this heartbeat's own answer carries. */
  private async newSet(em: EntityManager, node: Node): Promise<void> {
    await bumpNodes(em, [node.id]);
    const { desiredGeneration } = await em.findOneOrFail(Node, {
      where: { id: node.id },
      select: { id: true, desiredGeneration: true },
    });
    node.desiredGeneration = desiredGeneration;
  }

  /**
   * The name of the node's desired set: its generation, which the database moves with every
   * change of the set (the instance rows' columns it is made of, their apps' names; migrations.ts
   * DesiredGeneration), so no instance row is read to know the agent is current. Releases
   * (image, command, config, checks) never change once built, and only built ones are placed.
   * The node's id: a node removed and made again under its name starts again at 0.
   */
  private desiredVersion(node: Pick<Node, 'id' | 'desiredGeneration'>): string {
    return createHash('sha256')
      .update(`v2 ${node.id} ${node.desiredGeneration} ${this.config.scheduler.stopTimeout}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** Every instance the node should run, with what its agent needs to run it. */
  private async desired({ rows, apps, reach, addons }: DesiredRows): Promise<DesiredInstance[]> {
    const stopTimeout = this.config.scheduler.stopTimeout;
    const out: DesiredInstance[] = [];
    const releases = rows.length
      ? await this.dataSource.manager.find(Release, { where: { id: In([...new Set(rows.map((r) => r.releaseId))]) } })
      : [];
    const releaseById = new Map(releases.map((r) => [r.id, r]));
    // web instances of apps that sleep when idle may be woken by a request: checked finely
    const webApps = [...new Set(rows.filter((r) => r.type === 'web').map((r) => r.appId))];
    const sleepers = new Set(
      webApps.length
        ? (
            await this.dataSource.manager.find(Formation, {
              where: { appId: In(webApps), type: 'web', autoscaleMin: 0 },
              select: { appId: true },
            })
          ).map((f) => f.appId)
        : [],
    );
    for (const row of rows) {
      const release = releaseById.get(row.releaseId);
      const appName = apps.get(row.appId);
      if (!release?.imageRef || appName === undefined) continue;
      const dyno = `${row.type}.${row.number}`;
      out.push({
        id: row.id,
        appId: row.appId,
        app: appName,
        type: row.type,
        number: row.number,
        releaseId: release.id,
        version: release.version,
        image: release.imageRef,
        imageDigest: release.imageDigest,
        command: release.processTypes[row.type] ?? null,
        env: { ...release.config, PORT: String(INSTANCE_PORT), DYNO: dyno },
        size: row.size,
        memory: row.memory,
        cpuShares: row.cpuShares,
        cpuQuota: row.cpuQuota,
        port: row.type === 'web' ? INSTANCE_PORT : null,
        check:
          row.type === 'web' && sleepers.has(row.appId)
            ? wakeCheck(deployCheck(row.type, release.healthchecks, INSTANCE_PORT))
            : deployCheck(row.type, release.healthchecks, INSTANCE_PORT),
        stopTimeout,
        ...(reach.has(row.appId) ? { reach: reach.get(row.appId) } : {}),
      });
    }
    for (const addon of addons) out.push(desiredAddonInstance(addon, stopTimeout));
    return out;
  }

  /** `nodes:drain`: nothing new lands on the node and what runs there moves elsewhere. */
  async drain(name: string): Promise<NodeView> {
    return this.setState(name, 'draining');
  }

  /** `nodes:activate`: a drained node takes instances again. */
  async activate(name: string): Promise<NodeView> {
    return this.setState(name, 'up');
  }

  /**
   * `nodes:remove`: the node row goes and every credential bound to it is revoked (kept, so
   * its agent is told why it is refused). A node that still runs instances is refused unless
   * `force`: its instances are then forgotten by the next scheduler pass (their node no longer
   * exists) and placed elsewhere. A node that joined but never registered has no row: its
   * credentials are revoked all the same; a name with neither is 404.
   */
  async remove(name: string, force: boolean): Promise<RemovedNodeView> {
    const result = await this.scheduler.serial(() =>
      transaction(this.dataSource, async (em) => {
        const node = await em.findOne(Node, { where: { name } });
        const bound = await em.count(ApiToken, { where: { node: true, nodeName: name, revokedAt: IsNull() } });
        if (!node && bound === 0) throw ApiError.notFound(`node '${name}' not found`);
        const running = node ? await em.count(Instance, { where: { nodeId: node.id, desired: 'run' } }) : 0;
        if (running > 0 && !force) {
          throw ApiError.conflict(
            `node ${name} still runs ${running} instance${running === 1 ? '' : 's'}: \`paas nodes:drain ${name}\` and wait until they moved, or \`paas nodes:remove ${name} --force\` to place them elsewhere now`,
          );
        }
        // an add-on's data is on its node's volume: it cannot move, so removing the node fails it
        const addons = node ? await em.find(Addon, { where: { nodeId: node.id, state: Not('destroying') } }) : [];
        if (addons.length > 0 && !force) {
          throw ApiError.conflict(
            `node ${name} holds the data of add-on${addons.length === 1 ? '' : 's'} ${addons.map((a) => a.name).join(', ')}: \`paas addons:destroy\` ${addons.length === 1 ? 'it' : 'them'} first, or \`paas nodes:remove ${name} --force\` to leave ${addons.length === 1 ? 'it' : 'them'} failed`,
          );
        }
        if (node) {
          // what was being destroyed is gone with the node; the rest keeps its apps' config vars
          await em.delete(Addon, { nodeId: node.id, state: 'destroying' });
          await em.update(
            Addon,
            { nodeId: node.id },
            { state: 'failed', containerId: null, error: `its node ${name}, which held its volume, was removed` },
          );
          // their endpoints leave the reach of their apps' instances
          const attached = addons.length
            ? await em.find(AddonAttachment, {
                where: { addonId: In(addons.map((a) => a.id)) },
                select: { appId: true },
              })
            : [];
          await bumpNodes(
            em,
            await nodesOfApps(
              em,
              attached.map((a) => a.appId),
            ),
          );
        }
        const revoked = bound
          ? ((
              await em.update(
                ApiToken,
                { node: true, nodeName: name, revokedAt: IsNull() },
                { revokedAt: new Date().toISOString() },
              )
            ).affected ?? bound)
          : 0;
        if (node) await em.delete(Node, { id: node.id });
        return { name, removed: node !== null, revoked, replaced: running };
      }),
    );
    this.logger.log(
      `node ${name} removed: ${result.revoked} credential(s) revoked${result.replaced ? `, ${result.replaced} instance(s) to place elsewhere` : ''}`,
    );
    this.scheduler.kick();
    return result;
  }

  private async setState(name: string, state: 'up' | 'draining'): Promise<NodeView> {
    const node = await this.scheduler.serial(async () => {
      const node = await this.find(name);
      if (node.state === 'down') {
        throw ApiError.conflict(`node '${name}' is down: it comes back when its agent reports again`);
      }
      if (node.state !== state) await this.dataSource.manager.update(Node, { id: node.id }, { state });
      return { ...node, state };
    });
    this.logger.log(`node ${name} is ${state === 'up' ? 'active' : 'draining'}`);
    this.scheduler.kick();
    return nodeView(node);
  }
}
