import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { type App, Instance, Node, Release } from '@paas/platform';
import { type DataSource, In } from 'typeorm';
import { CurrentApp } from '../common/request';
import { DATA_SOURCE } from '../core/tokens';
import { InstanceView } from './instances.dto';

/** The app's instances as the scheduler recorded them (read-only here). */
@ApiTags('instances')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/instances')
export class InstancesController {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Get()
  @ApiOkResponse({ type: InstanceView, isArray: true, description: 'by type and number' })
  async list(@CurrentApp() app: App): Promise<InstanceView[]> {
    const manager = this.dataSource.manager;
    const instances = await manager.find(Instance, { where: { appId: app.id }, order: { type: 'ASC', number: 'ASC' } });
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
      release: { id: i.releaseId, version: versions.get(i.releaseId) ?? 0 },
      node: i.nodeId ? (names.get(i.nodeId) ?? null) : null,
      address: i.address,
      containerId: i.containerId,
      memoryBytes: i.memoryBytes,
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
    }));
  }
}
