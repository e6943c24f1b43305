import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Addon,
  AddonAttachment,
  ApiToken,
  App,
  appLogKey,
  Build,
  buildLogKey,
  Certificate,
  ConfigVar,
  currentRelease,
  Domain,
  Drain,
  Formation,
  Instance,
  isUniqueViolation,
  Release,
  bumpNodes,
  lockAddons,
  markAddonDestroying,
  transaction,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { type DataSource, type EntityManager, In } from 'typeorm';
import { API_CONFIG, type ApiConfig, appWebUrl } from '../config';
import { ApiError } from '../common/api-error';
import { CertPublisher } from '../certs/cert-publisher';
import { logAppEvent } from '../common/app-log';
import { drainStateKey } from '../drains/drain-state';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { GitRepos } from '../git/repos';
import { RedisNodeNotifier } from '../scheduler/scheduler-redis';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { AppView } from './apps.dto';
import { RELEASE_IMAGES, type ReleaseImageRemover } from './release-images.provider';

/** Where an app's bare repository lives (the git receiver's layout). */
export function repoPath(gitRoot: string, name: string): string {
  return new GitRepos(gitRoot).path(name);
}

@Injectable()
export class AppsService {
  private readonly logger = new Logger(AppsService.name);

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(CertPublisher) private readonly certs: CertPublisher,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
    @Inject(RELEASE_IMAGES) private readonly releaseImages: ReleaseImageRemover,
  ) {}

  /** The apps a token may see, by name: a scoped token's apps and their review apps (tokenAllowsApp). */
  async list(token: ApiToken): Promise<App[]> {
    const { manager } = this.dataSource;
    if (token.node) return [];
    if (token.admin || token.apps === null) return manager.find(App, { order: { name: 'ASC' } });
    const names = token.apps;
    const parents = names.length ? await manager.find(App, { where: { name: In(names) }, select: { id: true } }) : [];
    return manager.find(App, {
      where: [{ name: In(names) }, ...(parents.length ? [{ parentId: In(parents.map((p) => p.id)) }] : [])],
      order: { name: 'ASC' },
    });
  }

  async create(name: string, token: ApiToken): Promise<App> {
    if (!token.admin && token.apps !== null) throw ApiError.forbidden('a token scoped to some apps cannot create apps');
    const app = this.dataSource.manager.create(App, { id: randomUUID(), name });
    try {
      await transaction(this.dataSource, async (manager) => {
        await manager.insert(App, app);
        // a token naming an app that did not exist (made before scopes were checked) gains nothing
        await this.rescopeTokens(manager, name, null);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw ApiError.conflict(`app '${name}' already exists`);
      throw err;
    }
    // the app's log begins here (later writers that may race a deletion only append to it)
    await logAppEvent(this.redis, app.id, `Created app ${name} by ${token.name}`);
    return this.dataSource.manager.findOneByOrFail(App, { id: app.id });
  }

  /**
   * Renames an app, with what is keyed by its name: tokens scoped to it and its repository.
   * Releases keep their image references, so they still run.
   */
  async rename(app: App, name: string): Promise<App> {
    if (name === app.name) return app;
    const old = app.name;
    try {
      await transaction(this.dataSource, async (manager) => {
        await manager.update(App, { id: app.id }, { name });
        await this.rescopeTokens(manager, name, null);
        await this.rescopeTokens(manager, old, name);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw ApiError.conflict(`app '${name}' already exists`);
      throw err;
    }
    await rename(repoPath(this.config.gitRoot, old), repoPath(this.config.gitRoot, name)).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // no push yet: no repository
      },
    );
    // the certificate table is keyed by name, as the route table
    await this.certs.removed(old);
    await this.certs.publish(app.id);
    return this.dataSource.manager.findOneByOrFail(App, { id: app.id });
  }

  /**
   * Turns maintenance mode on or off; false when it was so already (nothing logged). The
   * scheduler writes it into the app's route at once (kicked), where the routers act on it.
   */
  async setMaintenance(app: App, on: boolean, token: ApiToken): Promise<boolean> {
    // conditional, so two callers racing to the same mode see one change between them
    const result = await this.dataSource.manager.update(App, { id: app.id, maintenance: !on }, { maintenance: on });
    if (!result.affected) return false;
    this.scheduler.kick();
    await logAppEvent(this.redis, app.id, `Maintenance mode ${on ? 'on' : 'off'} by ${token.name}`);
    return true;
  }

  /**
   * Deletes the app and everything of it: rows, repository, log streams, release images
   * (registry and this node's store). Its add-ons that another app is attached to stay with
   * that app; the others are destroyed with it. Its review apps go first, each as itself.
   */
  async remove(app: App): Promise<void> {
    for (const review of await this.dataSource.manager.find(App, { where: { parentId: app.id } }))
      await this.remove(review);
    const removed = await transaction(this.dataSource, async (manager) => {
      // by id, holding the row: a remove that went first leaves nothing to do here, and what is
      // keyed by name (tokens, certificates, the repository) may be another app's by now
      if (!(await lockApp(manager, app.id))) return null;
      const ids = (await manager.find(Build, { where: { appId: app.id }, select: { id: true } })).map((b) => b.id);
      const drains = (await manager.find(Drain, { where: { appId: app.id }, select: { id: true } })).map((d) => d.id);
      const images = await manager.find(Release, {
        where: { appId: app.id },
        select: { imageRef: true, imageDigest: true },
      });
      const nodes = await this.releaseAddons(manager, app);
      for (const entity of [ConfigVar, Build, Release, Formation, Instance, Domain, Certificate, Drain])
        await manager.delete(entity, { appId: app.id });
      await manager.delete(App, { id: app.id });
      await this.rescopeTokens(manager, app.name, null);
      return { builds: ids, drains, nodes, images };
    });
    if (removed === null) return;
    const { builds, drains, nodes, images } = removed;
    await new RedisNodeNotifier(this.redis).wake(new Set(nodes));
    // an app made since under the same name keeps its certificates and repository
    if (!(await this.dataSource.manager.exists(App, { where: { name: app.name } }))) {
      await this.certs.removed(app.name);
      await rm(repoPath(this.config.gitRoot, app.name), { recursive: true, force: true });
    }
    await this.redis.del(
      appLogKey(app.id),
      ...builds.map((id) => buildLogKey(id)),
      ...drains.map((id) => drainStateKey(id)),
    );
    // after the answer: the app is gone whatever the registry says (one that does not answer
    // must not hold the request), and an image left there is the operator's to prune
    void this.releaseImages.remove(images).catch((err: Error) => {
      this.logger.warn(`the release images of ${app.name} stay in the registry: ${err.message}`);
    });
  }

  /**
   * The app lets go of its add-ons: its attachments go; an add-on no other app is attached to
   * is destroyed (libs/platform markAddonDestroying), one made for it that another app still
   * uses is no longer anyone's own (its events stop going to a log). The nodes to wake.
   */
  private async releaseAddons(manager: EntityManager, app: App): Promise<string[]> {
    const attached = await manager.find(AddonAttachment, { where: { appId: app.id }, select: { addonId: true } });
    await manager.delete(AddonAttachment, { appId: app.id });
    const owned = await manager.find(Addon, { where: { appId: app.id }, select: { id: true } });
    const ids = [...new Set([...attached.map((a) => a.addonId), ...owned.map((a) => a.id)])];
    await lockAddons(manager, ids);
    const nodes: string[] = [];
    for (const addon of ids.length ? await manager.find(Addon, { where: { id: In(ids) } }) : []) {
      const left = await manager.count(AddonAttachment, { where: { addonId: addon.id } });
      if (left === 0 && addon.state !== 'destroying') nodes.push(...(await markAddonDestroying(manager, addon)));
      else if (addon.appId === app.id) {
        await manager.update(Addon, { id: addon.id }, { appId: null });
        // its entry's appId is the add-on's own now
        nodes.push(...(await bumpNodes(manager, [addon.nodeId])));
      }
    }
    return nodes;
  }

  /**
   * Tokens scoped to an app follow its rename (`to`) or lose it when it is deleted (null), so
   * a later app of the old name is not theirs. Scopes hold names, not ids, because names are
   * what users give and see; every change of a name goes through here, in the same transaction.
   */
  private async rescopeTokens(manager: EntityManager, from: string, to: string | null): Promise<void> {
    for (const token of await manager.find(ApiToken)) {
      if (!token.apps?.includes(from)) continue;
      const apps = token.apps.flatMap((name) => (name !== from ? [name] : to !== null ? [to] : []));
      await manager.update(ApiToken, { id: token.id }, { apps });
    }
  }

  async view(app: App, baseUrl: string): Promise<AppView> {
    const release = await currentRelease(this.dataSource.manager, app.id);
    const parent = app.parentId
      ? await this.dataSource.manager.findOne(App, { where: { id: app.parentId }, select: { id: true, name: true } })
      : null;
    const https = this.config.routerHttpsPort;
    return {
      id: app.id,
      name: app.name,
      createdAt: app.createdAt,
      updatedAt: app.updatedAt,
      gitUrl: `${baseUrl}/git/${app.name}.git`,
      webUrl: appWebUrl(this.config, app.name),
      httpsWebUrl:
        https === null ? null : `https://${app.name}.${this.config.domain}${https === 443 ? '' : `:${https}`}`,
      release: release ? { id: release.id, version: release.version } : null,
      maintenance: app.maintenance,
      review: parent ? { parent: parent.name, branch: app.branch ?? '' } : null,
    };
  }
}

/** Whether the app's row is still there, holding it (on Postgres) until the transaction ends. */
async function lockApp(manager: EntityManager, id: string): Promise<boolean> {
  if (manager.connection.options.type !== 'postgres') return manager.exists(App, { where: { id } });
  const rows: unknown[] = await manager.query('SELECT "id" FROM "apps" WHERE "id" = $1 FOR UPDATE', [id]);
  return rows.length > 0;
}
