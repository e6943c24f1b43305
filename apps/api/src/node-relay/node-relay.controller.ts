import { Controller, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { type NodeLogAnswer, type NodeLogBatch, Node } from '@paas/platform';
import type { ServerResponse } from 'node:http';
import type { DataSource } from 'typeorm';
import { ForNodes } from '../auth/decorators';
import { ApiError } from '../common/api-error';
import { EventStream } from '../common/event-stream';
import { DATA_SOURCE } from '../core/tokens';
import { NodeEventsService } from './node-events.service';
import { NodeLogAnswerView, NodeLogBatchDto } from './node-relay.dto';
import { NodeLogBody } from './node-log-body';
import { NodeLogsService } from './node-logs.service';

/**
 * What an agent once did with Redis, through the api instead (docs/security.md "Nodes hold
 * no Redis credentials"): its instances' output goes in with `POST :name/logs`, and the
 * control plane's nudges come out on `GET :name/events`.
 */
@ApiTags('nodes')
@ApiBearerAuth()
@ApiParam({ name: 'name', type: String, example: 'node-1' })
@Controller('nodes')
export class NodeRelayController {
  constructor(
    @Inject(NodeLogsService) private readonly logs: NodeLogsService,
    @Inject(NodeEventsService) private readonly events: NodeEventsService,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  @Post(':name/logs')
  @HttpCode(200)
  @ForNodes()
  @ApiBody({ type: NodeLogBatchDto })
  @ApiOkResponse({ type: NodeLogAnswerView, description: "instance output into the apps' logs" })
  write(@Param('name') name: string, @NodeLogBody() body: NodeLogBatch): Promise<NodeLogAnswer> {
    return this.logs.write(name, body);
  }

  @Get(':name/events')
  @ForNodes()
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: '`event: ready` once the stream listens, then `event: nudge` whenever the node should heartbeat now',
  })
  async stream(@Param('name') name: string, @Res() res: ServerResponse): Promise<void> {
    if (!(await this.dataSource.manager.existsBy(Node, { name }))) {
      throw ApiError.notFound(`node '${name}' is not registered`);
    }
    // listening before `ready`: a nudge published once the agent has `ready` is never missed
    let nudge = (): void => undefined;
    const stop = await this.events.listen(name, () => nudge());
    const stream = new EventStream(res);
    nudge = () => stream.send('changed', { event: 'nudge' });
    stream.send(name, { event: 'ready' });
    const { signal } = stream;
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    stop();
    stream.end();
  }
}
