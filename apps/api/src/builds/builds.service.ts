import { Inject, Injectable } from '@nestjs/common';
import { type App, Build, Release, buildLogKey, followLog } from '@paas/platform';
import type { Redis } from 'ioredis';
import { type DataSource, In } from 'typeorm';
import { ApiError } from '../common/api-error';
import type { EventStream } from '../common/event-stream';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import type { BuildView } from './builds.dto';

const FINISHED = new Set(['succeeded', 'failed']);

@Injectable()
export class BuildsService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Newest first, without the output (it can be large; one build's GET has it). */
  async list(app: App): Promise<BuildView[]> {
    const builds = await this.dataSource.manager.find(Build, { where: { appId: app.id }, order: { number: 'DESC' } });
    const releaseIds = builds.flatMap((b) => (b.releaseId ? [b.releaseId] : []));
    const releases = releaseIds.length
      ? await this.dataSource.manager.find(Release, {
          where: { id: In(releaseIds) },
          select: { id: true, version: true },
        })
      : [];
    const versions = new Map(releases.map((r) => [r.id, r.version]));
    return builds.map((build) => view(build, versions));
  }

  /** By id or per-app number. */
  async find(app: App, ref: string): Promise<Build> {
    const where = /^\d{1,9}$/.test(ref)
      ? { appId: app.id, number: Number(ref) }
      : /^[0-9a-f-]{36}$/.test(ref)
        ? { appId: app.id, id: ref }
        : null;
    const build = where && (await this.dataSource.manager.findOne(Build, { where }));
    if (!build) throw ApiError.notFound(`build '${ref}' of app '${app.name}' not found`);
    return build;
  }

  async get(app: App, ref: string): Promise<BuildView> {
    const build = await this.find(app, ref);
    const release = build.releaseId
      ? await this.dataSource.manager.findOne(Release, { where: { id: build.releaseId } })
      : null;
    return { ...view(build, new Map(release ? [[release.id, release.version]] : [])), output: build.output };
  }

  /**
   * The build's log as events: the Redis stream from its start, followed until the worker
   * ends it. A finished build whose stream has expired replays the output kept in the database.
   */
  async streamLog(build: Build, events: EventStream): Promise<void> {
    const key = buildLogKey(build.id);
    if (FINISHED.has(build.status) && (await this.redis.exists(key)) === 0) {
      const fresh = await this.dataSource.manager.findOneByOrFail(Build, { id: build.id });
      const text = fresh.output.endsWith('\n') ? fresh.output.slice(0, -1) : fresh.output;
      if (text !== '') for (const line of text.split('\n')) events.send(line);
      events.send(JSON.stringify({ status: fresh.status }), { event: 'end' });
      return;
    }
    for await (const entry of followLog(this.redis, key, '0', events.signal)) {
      if (entry.end !== undefined) events.send(JSON.stringify({ status: entry.end }), { event: 'end', id: entry.id });
      else events.send(entry.line, { id: entry.id });
    }
  }
}

function view(build: Build, versions: ReadonlyMap<string, number>): BuildView {
  const version = build.releaseId ? versions.get(build.releaseId) : undefined;
  return {
    id: build.id,
    number: build.number,
    status: build.status,
    commit: build.commit,
    ref: build.ref,
    stack: build.stack,
    imageRef: build.imageRef,
    imageDigest: build.imageDigest,
    processTypes: build.processTypes,
    error: build.error,
    release: build.releaseId && version !== undefined ? { id: build.releaseId, version } : null,
    createdAt: build.createdAt,
    updatedAt: build.updatedAt,
  };
}
