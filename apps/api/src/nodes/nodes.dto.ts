import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NODE_NAME, NODE_NAME_RULE } from '@paas/platform';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsString,
  Matches,
  MaxLength,
  Min,
  MinLength,
  Max,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { OptionalField } from '../common/validation';

export class NodeView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'node-1' })
  name!: string;

  @ApiProperty({ type: String, example: '10.0.0.2' })
  address!: string;

  @ApiProperty({ type: Number, description: 'MiB offered to instances' })
  memory!: number;

  @ApiProperty({ type: Number, description: 'CPUs in thousandths' })
  cpus!: number;

  @ApiProperty({ type: String, enum: ['up', 'down', 'draining'] })
  state!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastHeartbeatAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A field that may be null but, when not, must pass its rules (and must be present). */
const Nullable = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== null);

/** `POST /api/nodes/register`: an agent says who it is and what it offers. */
export class RegisterNodeDto {
  @ApiProperty({ type: String, pattern: NODE_NAME.source, example: 'node-1' })
  @IsString()
  @Matches(NODE_NAME, { message: `name must be ${NODE_NAME_RULE}` })
  name!: string;

  @ApiProperty({ type: String, example: '10.0.0.2', description: "the node's address, as the router reaches it" })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  address!: string;

  @ApiProperty({ type: Number, minimum: 16, description: 'MiB offered to instances' })
  @IsInt()
  @Min(16)
  @Max(16 * 1024 * 1024)
  memory!: number;

  @ApiProperty({ type: Number, minimum: 10, description: 'CPUs in thousandths (2000 = two cores)' })
  @IsInt()
  @Min(10)
  @Max(1_024_000)
  cpus!: number;

  @ApiPropertyOptional({ type: String, example: '0.1.0' })
  @OptionalField()
  @IsString()
  @MaxLength(64)
  version?: string;
}

/** One instance container, as its agent sees it. */
export class InstanceReportDto {
  @ApiProperty({ type: String, format: 'uuid' })
  @Matches(UUID, { message: 'id must be a UUID' })
  id!: string;

  @ApiProperty({ type: String, format: 'uuid' })
  @Matches(UUID, { message: 'releaseId must be a UUID' })
  releaseId!: string;

  @ApiProperty({ type: String, enum: ['starting', 'up', 'crashed', 'stopping'] })
  @IsIn(['starting', 'up', 'crashed', 'stopping'])
  state!: 'starting' | 'up' | 'crashed' | 'stopping';

  @ApiProperty({ type: String, nullable: true })
  @Nullable()
  @IsString()
  @MaxLength(64)
  containerId!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '10.0.0.2:32768' })
  @Nullable()
  @IsString()
  @MaxLength(64)
  address!: string | null;

  @ApiProperty({ type: Number })
  @IsInt()
  @Min(0)
  pid!: number;

  @ApiProperty({ type: Number, nullable: true })
  @Nullable()
  @IsInt()
  @Min(0)
  memoryBytes!: number | null;

  @ApiProperty({ type: Number })
  @IsInt()
  @Min(0)
  restartCount!: number;

  @ApiProperty({ type: String, nullable: true })
  @Nullable()
  @IsString()
  @MaxLength(2000)
  error!: string | null;
}

/** `POST /api/nodes/:name/heartbeat`: every instance container the node has. */
export class HeartbeatDto {
  @ApiProperty({ type: InstanceReportDto, isArray: true })
  @IsArray()
  @ArrayMaxSize(5000)
  @ValidateNested({ each: true })
  @Type(() => InstanceReportDto)
  instances!: InstanceReportDto[];
}

export class NodeSummaryView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String })
  name!: string;

  @ApiProperty({ type: String, enum: ['up', 'down', 'draining'] })
  state!: 'up' | 'down' | 'draining';
}

export class RegisterAnswerView {
  @ApiProperty({ type: NodeSummaryView })
  node!: NodeSummaryView;

  @ApiProperty({ type: Number, description: 'how often to send heartbeats, in ms' })
  heartbeatMs!: number;
}

export class HeartbeatAnswerView extends RegisterAnswerView {
  @ApiProperty({ type: String, example: '127.0.0.1:5000', description: 'the registry release images are in' })
  registry!: string;

  @ApiProperty({ type: Number, description: 'ms a leaving instance keeps serving in-flight requests' })
  drainMs!: number;

  @ApiProperty({
    type: 'array',
    items: { type: 'object' },
    description: 'every instance the node should run (libs/platform scheduling/protocol.ts DesiredInstance)',
  })
  instances!: object[];
}
