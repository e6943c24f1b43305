/**
 * An app's log drains (#25): `paas drains:add URL`, `drains`, `drains:remove URL|ID`. The rows
 * say where lines go; the leader's forwarder (drain-forwarder.ts) sends them, and the state it
 * keeps in Redis (drain-state.ts) is what `drains` shows of each: delivering or failing since
 * when and why, lines delivered and dropped.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { App, Drain, Node, databaseKind, isUniqueViolation, transaction } from '@paas/platform';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { type DrainState, initDrainState, readDrainState, removeDrainState } from './drain-state';
import { type DrainTargetPolicy, DrainUrlError, maskDrainUrl, parseDrainUrl, refusedTarget } from './drain-url';
import type { DrainView } from './drains.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Who drains may not reach, from the api's settings: PAAS_PROTECTED_CIDRS and the control plane
 * it knows, and the containers' bridge (PAAS_SUBNET). The nodes' addresses come from the
 * database: `registeredNodeAddresses`.
 */
export function drainTargetPolicy(config: ApiConfig): DrainTargetPolicy {
  return {
    allowPrivate: config.drains.allowPrivate,
    protectedCidrs: config.engine.bridge.protectedCidrs ?? [],
    bridgeCidrs: [config.engine.bridge.subnet.cidr],
  };
}

/** The registered nodes' addresses and service addresses (the nodes table), now. */
export async function registeredNodeAddresses(dataSource: DataSource): Promise<string[]> {
  const nodes = await dataSource.manager.find(Node, { select: { id: true, address: true, serviceAddress: true } });
  return nodes.flatMap((n) => [n.address, n.serviceAddress ?? '']).filter(Boolean);
}

@Injectable()
export class DrainsService {
  private readonly logger = new Logger('drains');
  private readonly policy: DrainTargetPolicy;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.policy = drainTargetPolicy(config);
  }

  async list(app: App): Promise<DrainView[]> {
    const rows = await this.dataSource.manager.find(Drain, { where: { appId: app.id }, order: { createdAt: 'ASC' } });
    const states = await Promise.all(rows.map((d) => readDrainState(this.redis, d.id)));
    return rows.map((d, i) => view(d, states[i] ?? null));
  }

  /** Adds a drain: it gets the app's lines from now on. */
  async add(app: App, text: string): Promise<DrainView> {
    let url: string;
    const nodes = await registeredNodeAddresses(this.dataSource);
    try {
      const target = parseDrainUrl(text.trim());
      const refused = refusedTarget(target.host, { ...this.policy, nodeAddresses: () => nodes });
      if (refused) throw new DrainUrlError(`url '${maskDrainUrl(target.url)}' may not be a drain: ${refused}`);
      url = target.url;
    } catch (err) {
      if (err instanceof DrainUrlError) throw ApiError.invalidField('url', 'drainUrl', err.message);
      throw err;
    }
    const drain = this.dataSource.manager.create(Drain, { id: randomUUID(), appId: app.id, url });
    try {
      await transaction(this.dataSource, async (em) => {
        // adds to one app one at a time, so two at once cannot pass the limit together
        if (databaseKind(this.dataSource) === 'postgres')
          await em.findOne(App, { where: { id: app.id }, lock: { mode: 'pessimistic_write' } });
        const count = await em.count(Drain, { where: { appId: app.id } });
        if (await em.existsBy(Drain, { appId: app.id, url }))
          throw ApiError.conflict(`app '${app.name}' has a drain to ${maskDrainUrl(url)} already`);
        if (count >= this.config.drains.maxPerApp)
          throw ApiError.unprocessable(
            `app '${app.name}' has ${count} drains, the most it may have (PAAS_DRAINS_MAX_PER_APP=${this.config.drains.maxPerApp})`,
          );
        await em.insert(Drain, drain);
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw ApiError.conflict(`app '${app.name}' has a drain to ${maskDrainUrl(url)} already`);
      throw err;
    }
    // its lines start here; without Redis now, the forwarder starts it when it first sees it
    await initDrainState(this.redis, drain.id, app.id).catch((err: unknown) =>
      this.logger.warn(`drain ${drain.id}: cannot record where it starts: ${(err as Error).message}`),
    );
    const row = await this.dataSource.manager.findOneByOrFail(Drain, { id: drain.id });
    return view(row, await readDrainState(this.redis, row.id).catch(() => null));
  }

  /** Removes a drain named by its id or its URL (as given or as listed). */
  async remove(app: App, idOrUrl: string): Promise<DrainView> {
    const drain = await this.find(app, idOrUrl.trim());
    if (!drain) throw ApiError.notFound(`drain '${idOrUrl}' of app '${app.name}' not found`);
    const state = await readDrainState(this.redis, drain.id).catch(() => null);
    await this.dataSource.manager.delete(Drain, { id: drain.id });
    // the leader's forwarder also forgets the state of a drain that is gone
    await removeDrainState(this.redis, drain.id).catch(() => undefined);
    return view(drain, state);
  }

  private async find(app: App, idOrUrl: string): Promise<Drain | null> {
    if (UUID.test(idOrUrl))
      return this.dataSource.manager.findOneBy(Drain, { appId: app.id, id: idOrUrl.toLowerCase() });
    let url = idOrUrl;
    try {
      url = parseDrainUrl(idOrUrl).url;
    } catch {
      // not a drain URL: looked for as listed (masked) below
    }
    const drains = await this.dataSource.manager.find(Drain, { where: { appId: app.id } });
    return drains.find((d) => d.url === url) ?? drains.find((d) => maskDrainUrl(d.url) === idOrUrl) ?? null;
  }
}

function view(drain: Drain, state: DrainState | null): DrainView {
  return {
    id: drain.id,
    url: maskDrainUrl(drain.url),
    token: `d.${drain.id}`,
    state: state?.failingSince ? 'failing' : 'delivering',
    failingSince: state?.failingSince ?? null,
    lastError: state?.lastError ?? null,
    delivered: state?.delivered ?? 0,
    dropped: state?.dropped ?? 0,
    createdAt: drain.createdAt,
  };
}
