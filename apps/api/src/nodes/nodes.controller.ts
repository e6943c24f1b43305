import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Node } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core/tokens';
import { NodeView } from './nodes.dto';

/** The nodes the scheduler places instances on; agents register them (read-only here). */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Get()
  @ApiOkResponse({ type: NodeView, isArray: true })
  async list(): Promise<NodeView[]> {
    const nodes = await this.dataSource.manager.find(Node, { order: { name: 'ASC' } });
    return nodes.map(({ id, name, address, memory, cpus, state, lastHeartbeatAt, createdAt }) => ({
      id,
      name,
      address,
      memory,
      cpus,
      state,
      lastHeartbeatAt,
      createdAt,
    }));
  }
}
