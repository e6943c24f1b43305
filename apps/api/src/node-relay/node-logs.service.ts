import { Inject, Injectable } from '@nestjs/common';
import { type AppLogLine, Instance, Node, type NodeLogAnswer, type NodeLogBatch, writeAppLogs } from '@paas/platform';
import type { Redis } from 'ioredis';
import { In, type DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { DATA_SOURCE, REDIS } from '../core/tokens';

/** How long a looked-up node or instance placement is trusted before it is read again. */
const PLACEMENT_TTL_MS = 10_000;
/** Placements held at most (a few per instance of the platform). */
const MAX_PLACEMENTS = 50_000;

interface Placement {
  readonly nodeId: string | null;
  readonly appId: string;
  /** `web.1`: the source its lines carry in the app's log. */
  readonly source: string;
  readonly at: number;
}

/**
 * Writes a node's batch of instance output into the apps' logs (libs/platform node-logs.ts):
 * every line's instance must be placed on that node, or nothing of the batch is written
 * (403). A batch costs at most one query (the placements not cached) and one Redis round
 * trip (a pipeline of XADDs); placements are cached for PLACEMENT_TTL_MS, which is as long
 * as a line may still land after its instance moved (it never does: a moved instance is a
 * new one) or its app was deleted (the log is not recreated: writeAppLogs writes only to
 * logs that exist).
 */
@Injectable()
export class NodeLogsService {
  private readonly placements = new Map<string, Placement>();
  private readonly nodes = new Map<string, { id: string; at: number }>();

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async write(nodeName: string, batch: NodeLogBatch, now = Date.now()): Promise<NodeLogAnswer> {
    const nodeId = await this.nodeId(nodeName, now);
    const ids = [...new Set(batch.lines.map((l) => l.instance))];
    const placed = await this.placementsOf(ids, now);
    const lines: AppLogLine[] = [];
    let unknown = 0;
    for (let i = 0; i < batch.lines.length; i++) {
      const { instance, line } = batch.lines[i] as NodeLogBatch['lines'][number];
      const placement = placed.get(instance);
      if (!placement) {
        unknown++;
        continue;
      }
      if (placement.nodeId !== nodeId) {
        throw ApiError.forbidden(
          `lines[${i}]: instance ${instance} is not placed on node '${nodeName}'; a node writes only its own instances' output`,
        );
      }
      lines.push({ appId: placement.appId, source: placement.source, line });
    }
    try {
      await writeAppLogs(this.redis, lines);
    } catch (err) {
      throw new ApiError('unavailable', `the log store did not take the lines: ${(err as Error).message}`);
    }
    return { written: lines.length, unknown };
  }

  private async nodeId(name: string, now: number): Promise<string> {
    const cached = this.nodes.get(name);
    if (cached && now - cached.at < PLACEMENT_TTL_MS) return cached.id;
    const node = await this.dataSource.manager.findOne(Node, { where: { name }, select: { id: true } });
    if (!node) throw ApiError.notFound(`node '${name}' is not registered`);
    this.nodes.set(name, { id: node.id, at: now });
    return node.id;
  }

  /** The placements of `ids`: cached ones, the rest in one query. Unknown ids are absent. */
  private async placementsOf(ids: readonly string[], now: number): Promise<Map<string, Placement>> {
    const found = new Map<string, Placement>();
    const missing: string[] = [];
    for (const id of ids) {
      const cached = this.placements.get(id);
      if (cached && now - cached.at < PLACEMENT_TTL_MS) found.set(id, cached);
      else missing.push(id);
    }
    if (missing.length === 0) return found;
    const rows = await this.dataSource.manager.find(Instance, {
      where: { id: In(missing) },
      select: { id: true, nodeId: true, appId: true, type: true, number: true },
    });
    for (const row of rows) {
      const placement = { nodeId: row.nodeId, appId: row.appId, source: `${row.type}.${row.number}`, at: now };
      this.placements.delete(row.id);
      this.placements.set(row.id, placement);
      found.set(row.id, placement);
    }
    for (const id of this.placements.keys()) {
      if (this.placements.size <= MAX_PLACEMENTS) break;
      this.placements.delete(id);
    }
    return found;
  }
}
