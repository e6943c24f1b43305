import { ApiProperty } from '@nestjs/swagger';
import {
  NODE_LOG_MAX_LINE,
  NODE_LOG_MAX_LINES,
  type NodeLogAnswer,
  type NodeLogBatch,
  type NodeLogLine,
} from '@paas/platform';

/** One line of an instance's output. For OpenAPI: the body is checked by node-log-body.ts. */
export class NodeLogLineDto implements NodeLogLine {
  @ApiProperty({ type: String, format: 'uuid', description: 'the instance (placed on this node) that wrote it' })
  instance!: string;

  @ApiProperty({ type: String, maxLength: NODE_LOG_MAX_LINE })
  line!: string;
}

/** `POST /api/nodes/:name/logs`: lines in the order they were written, per instance. */
export class NodeLogBatchDto implements NodeLogBatch {
  @ApiProperty({ type: NodeLogLineDto, isArray: true, maxItems: NODE_LOG_MAX_LINES })
  lines!: NodeLogLineDto[];
}

export class NodeLogAnswerView implements NodeLogAnswer {
  @ApiProperty({ type: Number, description: "lines written to their apps' logs" })
  written!: number;

  @ApiProperty({ type: Number, description: 'lines of instances the api no longer knows, left out' })
  unknown!: number;
}
