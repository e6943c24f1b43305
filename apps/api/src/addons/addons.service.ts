/**
 * Add-ons (#22): `addons:create`, `attach`, `detach`, `destroy` and their views. Each change
 * commits in one transaction with what follows from it: the add-on's row, its attachments, the
 * apps' config vars in a new release each (releases.ts applyConfigChange, as config:set makes
 * them), and the desired generation of every node whose set it moves (its own node's add-on
 * entry, the `reach` of the apps' instances: libs/platform addons.ts). The agents of those
 * nodes are woken once it has committed.
 *
 * A scoped token sees an add-on only through the apps it is attached to: one it may not see is
 * 404, as an app of another scope would tell nothing. Destroying it needs every attached app.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  ADDON_SERVICES,
  Addon,
  AddonAttachment,
  AddonBackup,
  type AddonType,
  type Allocation,
  type ApiToken,
  App,
  ConfigVar,
  DEFAULT_SIZE,
  Instance,
  Node,
  type NodeCapacity,
  nodeCapacity,
  type Release,
  type Size,
  UnknownSizeError,
  addonAllocation,
  addonVisibleTo,
  addonVolume,
  applyConfigChange,
  attachmentVar,
  bumpNodes,
  findApp,
  generateAddonName,
  generateAddonPassword,
  isRetryableConflict,
  lockAddons,
  markAddonDestroying,
  nodesOfApps,
  parseSize,
  schedulableMemory,
  type ScopedApp,
  scopedApps,
  tokenAllowsApp,
  tokenMayUseApp,
  transaction,
  usage,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { type DataSource, type EntityManager, In, Not } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { RedisNodeNotifier } from '../scheduler/scheduler-redis';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { AddonView } from './addons.dto';

/** Below this a database does not start (PostgreSQL's shared buffers alone take 128 MiB by default). */
const ADDON_MEMORY_MIN = 128;

/** How often a transaction that lost a race (a port, a name, a release number) is tried again. */
const ATTEMPTS = 8;

/** What an app's log and the wake-up get once a change has committed. */
interface Committed<T> {
  readonly result: T;
  /** Nodes whose desired set moved. */
  readonly nodes: readonly string[];
  /** Lines per app id, in order. */
  readonly lines: readonly { appId: string; line: string }[];
}

@Injectable()
export class AddonsService {
  private readonly notifier: RedisNodeNotifier;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {
    this.notifier = new RedisNodeNotifier(redis);
  }

  /** Every add-on the token sees, by name. */
  async list(token: ApiToken): Promise<AddonView[]> {
    const seen = await this.views(await this.dataSource.manager.find(Addon, { order: { name: 'ASC' } }));
    return seen.filter((s) => visible(token, s)).map((s) => s.view);
  }

  /** The add-ons attached to an app, by name. */
  async listOfApp(app: App): Promise<AddonView[]> {
    const { manager } = this.dataSource;
    const ids = (await manager.find(AddonAttachment, { where: { appId: app.id }, select: { addonId: true } })).map(
      (a) => a.addonId,
    );
    if (ids.length === 0) return [];
    const addons = await manager.find(Addon, { where: { id: In([...new Set(ids)]) }, order: { name: 'ASC' } });
    return (await this.views(addons)).map((s) => s.view);
  }

  async info(name: string, token: ApiToken): Promise<AddonView> {
    return (await this.find(name, token)).view;
  }

  /** `addons:create TYPE -a APP`: placed, its port and password chosen, attached to the app. */
  async create(
    app: App,
    input: { type: AddonType; name?: string; as?: string; size?: string },
    token: ApiToken,
  ): Promise<AddonView> {
    const service = ADDON_SERVICES[input.type];
    const size = addonSize(input.size ?? DEFAULT_SIZE);
    const as = input.as ?? service.attachAs;
    const password = generateAddonPassword();
    const id = randomUUID();
    // placement reads what the scheduler's pass places: not while a pass runs in this process
    const done = await this.scheduler.serial(() =>
      this.commit(async (em) => {
        const name = await this.freeName(em, input.type, input.name);
        await this.checkAttachable(em, app, as);
        const node = await this.place(em, size);
        const port = await this.freePort(em);
        await em.insert(Addon, {
          id,
          name,
          type: input.type,
          appId: app.id,
          size: size.name,
          memory: size.memory,
          cpuShares: size.cpuShares,
          nodeId: node.id,
          volume: addonVolume(name, id),
          port,
          password,
          state: 'creating',
          containerId: null,
          restartCount: 0,
          error: null,
          backupHour: null,
        });
        const url = service.url(password, node.serviceAddress as string, port);
        const release = await this.attachIn(em, id, name, app, as, url, token);
        const nodes = await bumpNodes(em, [node.id, ...(await nodesOfApps(em, [app.id]))]);
        return {
          result: name,
          nodes,
          lines: [
            { appId: app.id, line: `Created ${name} (${input.type} ${size.name}) on ${node.name} by ${token.name}` },
            ...attachLines(app.id, name, as, release, token),
          ],
        };
      }),
    );
    return (await this.find(done, token)).view;
  }

  /** `addons:attach NAME -a OTHER`: the other app gets the URL in a new release, and may reach it. */
  async attach(name: string, input: { app: string; as?: string }, token: ApiToken): Promise<AddonView> {
    const { addon } = await this.find(name, token);
    const app = await findApp(this.dataSource.manager, input.app);
    if (!app || !(await tokenMayUseApp(this.dataSource.manager, token, app))) {
      if (!app && tokenAllowsApp(token, input.app)) throw ApiError.notFound(`app '${input.app}' not found`);
      throw ApiError.forbidden(`this token may not use app '${input.app}'`);
    }
    const as = input.as ?? ADDON_SERVICES[addon.type].attachAs;
    await this.commit(async (em) => {
      await lockAddons(em, [addon.id]);
      const now = await em.findOne(Addon, { where: { id: addon.id } });
      if (!now || now.state === 'destroying') throw ApiError.conflict(`add-on '${name}' is being destroyed`);
      const node = now.nodeId ? await em.findOne(Node, { where: { id: now.nodeId } }) : null;
      if (!node?.serviceAddress) {
        throw ApiError.conflict(`add-on '${name}' has no node to be reached at: ${now.error ?? 'its node is gone'}`);
      }
      await this.checkAttachable(em, app, as);
      const url = ADDON_SERVICES[now.type].url(now.password, node.serviceAddress, now.port);
      const release = await this.attachIn(em, now.id, now.name, app, as, url, token);
      return {
        result: undefined,
        nodes: await bumpNodes(em, await nodesOfApps(em, [app.id])),
        lines: attachLines(app.id, now.name, as, release, token),
      };
    });
    return (await this.find(name, token)).view;
  }

  /**
   * `addons:detach NAME -a APP`: the app's attachments of the add-on go, with their config
   * vars, in a new release. The add-on's last app cannot let go of it: that is a destroy.
   */
  async detach(app: App, name: string, token: ApiToken): Promise<void> {
    await this.commit(async (em) => {
      const found = await em.findOne(Addon, { where: { name }, select: { id: true } });
      if (found) await lockAddons(em, [found.id]);
      // read again under the lock: two detaches by two apps must not both see the other
      const addon = found ? await em.findOne(Addon, { where: { id: found.id } }) : null;
      const attachments = addon ? await em.find(AddonAttachment, { where: { addonId: addon.id } }) : [];
      const mine = attachments.filter((a) => a.appId === app.id);
      if (!addon || mine.length === 0) throw ApiError.notFound(`add-on '${name}' is not attached to app '${app.name}'`);
      const others = attachments.filter((a) => a.appId !== app.id);
      const other = others[0];
      if (!other) {
        throw ApiError.conflict(
          `${name} is attached to ${app.name} only: destroy it instead (paas addons:destroy ${name} --confirm ${name})`,
        );
      }
      await em.delete(AddonAttachment, { id: In(mine.map((a) => a.id)) });
      const names = mine.map((a) => a.name);
      const release = await applyConfigChange(
        em,
        app.id,
        { set: {}, unset: names.map(attachmentVar), description: `Detach ${names.join(', ')} (${name})` },
        token.name,
      );
      // the add-on's events go to an app that still has it
      const moved = addon.appId === app.id;
      if (moved) await em.update(Addon, { id: addon.id }, { appId: other.appId });
      const nodes = await bumpNodes(em, [...(moved ? [addon.nodeId] : []), ...(await nodesOfApps(em, [app.id]))]);
      return {
        result: undefined,
        nodes,
        lines: [
          { appId: app.id, line: `Detached ${name} (${names.join(', ')}) by ${token.name}` },
          ...releaseLine(app.id, release, token),
        ],
      };
    });
  }

  /**
   * `addons:destroy NAME --confirm NAME`: every attached app loses its config var in a new
   * release, the add-on leaves its node and its volume is removed there. Its backups stay.
   */
  async destroy(name: string, confirm: string | undefined, token: ApiToken): Promise<void> {
    const { addon, attached } = await this.find(name, token);
    for (const app of attached) {
      if (!tokenAllowsApp(token, app)) {
        throw ApiError.forbidden(`this token may not change app '${app.name}', which ${name} is attached to`);
      }
    }
    if (confirm !== name) {
      throw ApiError.invalidField(
        'confirm',
        'equals',
        `destroying ${name} deletes its data: confirm with its name (confirm=${name})`,
      );
    }
    if (addon.state === 'destroying') return;
    await this.commit(async (em) => {
      await lockAddons(em, [addon.id]);
      const now = await em.findOne(Addon, { where: { id: addon.id } });
      if (!now || now.state === 'destroying') return { result: undefined, nodes: [], lines: [] };
      const attachments = await em.find(AddonAttachment, { where: { addonId: addon.id }, order: { createdAt: 'ASC' } });
      // the apps attached now, not when the token was first checked: one attached meanwhile too
      const apps = attachments.length
        ? await em.find(App, {
            where: { id: In(attachments.map((a) => a.appId)) },
            select: { id: true, name: true, parentId: true },
          })
        : [];
      for (const app of await scopedApps(em, apps)) {
        if (!tokenAllowsApp(token, app)) {
          throw ApiError.forbidden(`this token may not change app '${app.name}', which ${name} is attached to`);
        }
      }
      const lines: { appId: string; line: string }[] = [];
      const byApp = new Map<string, string[]>();
      for (const a of attachments) byApp.set(a.appId, [...(byApp.get(a.appId) ?? []), a.name]);
      for (const [appId, names] of byApp) {
        const release = await applyConfigChange(
          em,
          appId,
          { set: {}, unset: names.map(attachmentVar), description: `Detach ${names.join(', ')} (${name})` },
          token.name,
        );
        lines.push({ appId, line: `Destroyed ${name} by ${token.name}` }, ...releaseLine(appId, release, token));
      }
      return { result: undefined, nodes: await markAddonDestroying(em, now), lines };
    });
  }

  /**
   * Runs a change in a transaction, again when it lost a race for a unique value (a port, a
   * name, a release number) to another writer; then wakes the agents and writes the apps' logs.
   */
  private async commit<T>(work: (em: EntityManager) => Promise<Committed<T>>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let done: Committed<T>;
      try {
        done = await transaction(this.dataSource, work);
      } catch (err) {
        if (isRetryableConflict(err) && attempt < ATTEMPTS) continue;
        throw err;
      }
      await this.notifier.wake(new Set(done.nodes));
      for (const { appId, line } of done.lines) await logAppEvent(this.redis, appId, line);
      return done.result;
    }
  }

  /** The attachment and the app's config var, in a new release (the release or null: the var held that already). */
  private async attachIn(
    em: EntityManager,
    addonId: string,
    addonName: string,
    app: App,
    as: string,
    url: string,
    token: ApiToken,
  ): Promise<Release | null> {
    await em.insert(AddonAttachment, { id: randomUUID(), addonId, appId: app.id, name: as });
    return applyConfigChange(
      em,
      app.id,
      { set: { [attachmentVar(as)]: url }, unset: [], description: `Attach ${as} (${addonName})` },
      token.name,
    );
  }

  /** The app has no var `AS_URL` and no attachment named AS: attaching would overwrite one. */
  private async checkAttachable(em: EntityManager, app: App, as: string): Promise<void> {
    const key = attachmentVar(as);
    if (await em.findOne(AddonAttachment, { where: { appId: app.id, name: as }, select: { id: true } })) {
      throw ApiError.conflict(
        `app '${app.name}' has an add-on attached as ${as} already: use --as NAME to pick another`,
      );
    }
    if (await em.findOne(ConfigVar, { where: { appId: app.id, key }, select: { key: true } })) {
      throw ApiError.conflict(`app '${app.name}' has ${key} set already: use --as NAME to attach under another name`);
    }
  }

  /** The name asked for (409 when taken), or a generated one that is free. */
  private async freeName(em: EntityManager, type: AddonType, asked: string | undefined): Promise<string> {
    const taken = async (name: string): Promise<boolean> => (await em.count(Addon, { where: { name } })) > 0;
    if (asked !== undefined) {
      if (await taken(asked)) throw ApiError.conflict(`add-on '${asked}' already exists`);
      return asked;
    }
    for (;;) {
      const name = generateAddonName(type);
      if (!(await taken(name))) return name;
    }
  }

  /**
   * The node for a new add-on: an `up` one with a service address (its agent runs add-ons), the
   * one with the most memory free after what it holds (instances, leaving ones too, and
   * add-ons), as the scheduler counts it (scheduling/placement.ts).
   */
  private async place(em: EntityManager, size: Size): Promise<Node> {
    const nodes = await em.find(Node, { order: { name: 'ASC' } });
    const able = nodes.filter((n) => n.state === 'up' && n.serviceAddress);
    if (able.length === 0) {
      throw new ApiError(
        'unavailable',
        nodes.some((n) => n.state === 'up')
          ? 'no node can run add-ons: no up node has a service address (their agents predate add-ons)'
          : 'no node can run add-ons: none is up',
      );
    }
    const capacities: NodeCapacity[] = able.map(nodeCapacity);
    const instances = await em.find(Instance, {
      select: { nodeId: true, appId: true, type: true, memory: true, cpuShares: true },
    });
    const addons = await em.find(Addon, {
      where: { state: Not('destroying') },
      select: { id: true, nodeId: true, type: true, memory: true, cpuShares: true },
    });
    const held: Allocation[] = [
      ...instances.flatMap((i) => (i.nodeId ? [{ ...i, nodeId: i.nodeId }] : [])),
      ...addons.flatMap((a) => (a.nodeId ? [{ ...addonAllocation(a), nodeId: a.nodeId }] : [])),
    ];
    const free = usage(capacities, held).map((u) => ({ u, free: schedulableMemory(u.node) - u.memoryUsed }));
    const best = free.filter((f) => f.free >= size.memory).sort((a, b) => b.free - a.free)[0];
    if (!best) {
      const most = free.sort((a, b) => b.free - a.free)[0];
      throw new ApiError(
        'unavailable',
        `no node has ${size.memory} MiB free for a ${size.name} add-on` +
          (most ? ` (the most is ${Math.max(0, most.free)} MiB, on ${most.u.node.name})` : ''),
      );
    }
    return able.find((n) => n.id === best.u.node.id) as Node;
  }

  /** A port of PAAS_ADDON_PORTS no add-on holds (a destroying one still may). */
  private async freePort(em: EntityManager): Promise<number> {
    const { first: from, last: to } = this.config.addonPorts;
    const held = new Set((await em.find(Addon, { select: { port: true } })).map((a) => a.port));
    // the next one after the highest held, wrapping: a port freed a moment ago is taken last, as
    // a one-off run or release phase started before a detach keeps its reach entry until it exits
    const start = held.size === 0 ? from : Math.max(...held) + 1;
    for (let i = 0; i <= to - from; i++) {
      const port = from + ((start - from + i) % (to - from + 1));
      if (!held.has(port)) return port;
    }
    throw new ApiError(
      'unavailable',
      `every add-on port is taken (PAAS_ADDON_PORTS=${from}-${to}): destroy an add-on or widen the range`,
    );
  }

  /** The add-on and its view, when the token may see it; else 404, as for one that does not exist. */
  private async find(name: string, token: ApiToken): Promise<Seen> {
    const addon = await this.dataSource.manager.findOne(Addon, { where: { name } });
    const seen = addon ? (await this.views([addon]))[0] : undefined;
    if (!seen || !visible(token, seen)) throw ApiError.notFound(`add-on '${name}' not found`);
    return seen;
  }

  private async views(addons: readonly Addon[]): Promise<Seen[]> {
    if (addons.length === 0) return [];
    const { manager } = this.dataSource;
    const ids = addons.map((a) => a.id);
    const attachments = await manager.find(AddonAttachment, { where: { addonId: In(ids) } });
    const appIds = [...new Set([...attachments.map((a) => a.appId), ...addons.flatMap((a) => a.appId ?? [])])];
    const rows = appIds.length
      ? await manager.find(App, { where: { id: In(appIds) }, select: { id: true, name: true, parentId: true } })
      : [];
    const scoped = await scopedApps(manager, rows);
    const apps = new Map(rows.map((a) => [a.id, a.name]));
    const scopes = new Map(rows.map((a, i) => [a.id, scoped[i] as ScopedApp]));
    const nodeIds = [...new Set(addons.flatMap((a) => a.nodeId ?? []))];
    const nodes = new Map(
      (nodeIds.length
        ? await manager.find(Node, { where: { id: In(nodeIds) }, select: { id: true, name: true } })
        : []
      ).map((n) => [n.id, n.name]),
    );
    const backups = new Map<string, number>();
    for (const b of await manager.find(AddonBackup, { where: { addonId: In(ids) }, select: { addonId: true } }))
      backups.set(b.addonId, (backups.get(b.addonId) ?? 0) + 1);
    return addons.map((addon) => ({
      addon,
      owner: addon.appId ? (scopes.get(addon.appId) ?? null) : null,
      attached: attachments.flatMap((a) => (a.addonId === addon.id ? (scopes.get(a.appId) ?? []) : [])),
      view: {
        id: addon.id,
        name: addon.name,
        type: addon.type,
        state: addon.state,
        error: addon.error,
        node: addon.nodeId ? (nodes.get(addon.nodeId) ?? null) : null,
        size: addon.size,
        createdAt: addon.createdAt,
        attachments: attachments
          .filter((a) => a.addonId === addon.id)
          .map((a) => ({ app: apps.get(a.appId) ?? '?', name: a.name, var: attachmentVar(a.name) }))
          .sort((a, b) => a.app.localeCompare(b.app) || a.name.localeCompare(b.name)),
        backups: backups.get(addon.id) ?? 0,
      },
    }));
  }
}

/** An add-on as a request sees it: its row, its view, the apps it is attached to and the one it was made for. */
interface Seen {
  readonly addon: Addon;
  readonly view: AddonView;
  readonly attached: readonly ScopedApp[];
  readonly owner: ScopedApp | null;
}

/** Whether the token sees the add-on: through an app it is attached to (or was made for). */
function visible(token: ApiToken, { attached, owner }: Seen): boolean {
  return addonVisibleTo(token, [...attached, ...(owner === null ? [] : [owner])]);
}

function addonSize(input: string): Size {
  let size: Size;
  try {
    size = parseSize(input);
  } catch (err) {
    if (err instanceof UnknownSizeError) throw ApiError.invalidField('size', 'size', err.message);
    throw err;
  }
  if (size.memory < ADDON_MEMORY_MIN) {
    throw ApiError.invalidField(
      'size',
      'size',
      `size ${size.name} is too small for an add-on: at least ${ADDON_MEMORY_MIN}M`,
    );
  }
  return size;
}

function releaseLine(appId: string, release: Release | null, token: ApiToken): { appId: string; line: string }[] {
  return release ? [{ appId, line: `Release v${release.version} created by ${token.name}` }] : [];
}

function attachLines(
  appId: string,
  name: string,
  as: string,
  release: Release | null,
  token: ApiToken,
): { appId: string; line: string }[] {
  return [{ appId, line: `Attached ${name} as ${as} by ${token.name}` }, ...releaseLine(appId, release, token)];
}
