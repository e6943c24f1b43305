import { Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { HeartbeatReply, HeartbeatRequest, RegisterAnswer } from '@paas/platform';
import { AdminOnly, ForNodes } from '../auth/decorators';
import { ValidBody, ValidQuery } from '../common/validation';
import { HeartbeatBody } from './heartbeat-body';
import {
  HeartbeatAnswerView,
  HeartbeatDto,
  NodeView,
  RegisterAnswerView,
  RegisterNodeDto,
  RemoveNodeQueryDto,
  RemovedNodeView,
} from './nodes.dto';
import { NodesService } from './nodes.service';

/**
 * The nodes the scheduler places instances on. Agents register and heartbeat here with node
 * tokens (libs/platform scheduling/protocol.ts); admins drain and activate nodes.
 */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(@Inject(NodesService) private readonly nodes: NodesService) {}

  @Get()
  @ApiOkResponse({ type: NodeView, isArray: true })
  list(): Promise<NodeView[]> {
    return this.nodes.list();
  }

  @Post('register')
  @ForNodes()
  @ApiBody({ type: RegisterNodeDto })
  @ApiCreatedResponse({ type: RegisterAnswerView, description: "an agent's start: the node is made or updated" })
  register(@ValidBody(RegisterNodeDto) body: RegisterNodeDto): Promise<RegisterAnswer> {
    return this.nodes.register(body);
  }

  @Post(':name/heartbeat')
  @HttpCode(200)
  @ForNodes()
  @ApiParam({ name: 'name', type: String, example: 'node-1' })
  @ApiBody({ type: HeartbeatDto })
  @ApiOkResponse({ type: HeartbeatAnswerView, description: 'what the node should run' })
  heartbeat(@Param('name') name: string, @HeartbeatBody() body: HeartbeatRequest): Promise<HeartbeatReply> {
    return this.nodes.heartbeat(name, body);
  }

  @Post(':name/drain')
  @HttpCode(200)
  @AdminOnly()
  @ApiParam({ name: 'name', type: String, example: 'node-1' })
  @ApiOkResponse({ type: NodeView, description: 'nothing new lands on the node; its instances move elsewhere' })
  drain(@Param('name') name: string): Promise<NodeView> {
    return this.nodes.drain(name);
  }

  @Post(':name/activate')
  @HttpCode(200)
  @AdminOnly()
  @ApiParam({ name: 'name', type: String, example: 'node-1' })
  @ApiOkResponse({ type: NodeView, description: 'the node takes instances again' })
  activate(@Param('name') name: string): Promise<NodeView> {
    return this.nodes.activate(name);
  }

  @Delete(':name')
  @AdminOnly()
  @ApiParam({ name: 'name', type: String, example: 'node-1' })
  @ApiOkResponse({ type: RemovedNodeView, description: 'the node is gone and its credentials revoked' })
  remove(
    @Param('name') name: string,
    @ValidQuery(RemoveNodeQueryDto) query: RemoveNodeQueryDto,
  ): Promise<RemovedNodeView> {
    return this.nodes.remove(name, query.force === 'true' || query.force === '1');
  }
}
