import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  type DeployCheck,
  type DesiredAddon,
  type DesiredInstance,
  HEARTBEAT_MAX_INSTANCES,
  type HeartbeatAnswerSameSet,
  type HeartbeatRequest,
  type InstanceReport,
  NODE_NAME,
  NODE_NAME_RULE,
  type NodeSummary,
  type RegisterAnswer,
  type RegisterRequest,
  type ReportedState,
  type ServiceEndpoint,
} from '@paas/platform';
import { IsIP, IsIn, IsInt, IsString, Matches, MaxLength, Min, MinLength, Max } from 'class-validator';
import { OptionalField } from '../common/validation';
import { REPORTED_STATES } from './heartbeat-body';

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

  @ApiProperty({ type: Number, description: 'how much of its memory placement may promise, in percent (200: twice)' })
  overcommit!: number;

  @ApiProperty({ type: String, enum: ['up', 'down', 'draining'] })
  state!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastHeartbeatAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}

/** `DELETE /api/nodes/:name?force=true`. */
export class RemoveNodeQueryDto {
  @ApiPropertyOptional({
    type: String,
    enum: ['true', 'false', '1', '0'],
    description: 'remove a node that still has instances: they are placed elsewhere',
  })
  @OptionalField()
  @IsIn(['0', '1', 'true', 'false'], { message: 'force must be true or false' })
  force?: string;
}

export class RemovedNodeView {
  @ApiProperty({ type: String, example: 'node-2' })
  name!: string;

  @ApiProperty({
    type: Boolean,
    description: 'whether a node row was removed (false: the node had joined but never registered)',
  })
  removed!: boolean;

  @ApiProperty({ type: Number, description: 'node credentials bound to the node, now revoked' })
  revoked!: number;

  @ApiProperty({ type: Number, description: 'instances it still ran, placed elsewhere (--force)' })
  replaced!: number;
}

/** `POST /api/nodes/register`: an agent says who it is and what it offers. */
export class RegisterNodeDto implements RegisterRequest {
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

  @ApiPropertyOptional({
    type: Number,
    minimum: 100,
    maximum: 1000,
    default: 100,
    description: 'how much of its memory placement may promise, in percent (PAAS_NODE_OVERCOMMIT x 100)',
  })
  @OptionalField()
  @IsInt()
  @Min(100)
  @Max(1000)
  overcommit?: number;

  @ApiPropertyOptional({ type: String, example: '0.1.0' })
  @OptionalField()
  @IsString()
  @MaxLength(64)
  version?: string;

  @ApiPropertyOptional({
    type: String,
    example: '10.0.0.2',
    description:
      "where containers reach the add-ons the node runs (PAAS_NODE_ADDRESS, or its bridge's gateway); absent: the node runs none",
  })
  @OptionalField()
  @IsIP(4, { message: 'serviceAddress must be an IPv4 address (the add-on network rule is IPv4)' })
  serviceAddress?: string;
}

/** One instance container, as its agent sees it (checked by heartbeat-body.ts). */
export class InstanceReportDto implements InstanceReport {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, format: 'uuid' })
  releaseId!: string;

  @ApiProperty({ type: String, enum: REPORTED_STATES })
  state!: ReportedState;

  @ApiProperty({ type: String, nullable: true, maxLength: 64 })
  containerId!: string | null;

  @ApiProperty({ type: String, nullable: true, maxLength: 64, example: '10.0.0.2:32768' })
  address!: string | null;

  @ApiProperty({ type: Number, minimum: 0 })
  pid!: number;

  @ApiProperty({ type: Number, nullable: true, minimum: 0 })
  memoryBytes!: number | null;

  @ApiProperty({ type: Number, minimum: 0 })
  restartCount!: number;

  @ApiProperty({ type: String, nullable: true, maxLength: 2000 })
  error!: string | null;

  @ApiPropertyOptional({ type: Boolean, description: 'it cannot run here and its agent will not try again' })
  final?: boolean;
}

/**
 * `POST /api/nodes/:name/heartbeat`: every instance container the node has, or those that
 * changed. For OpenAPI: the body is checked by heartbeat-body.ts, not class-validator.
 */
export class HeartbeatDto implements HeartbeatRequest {
  @ApiProperty({ type: InstanceReportDto, isArray: true, maxItems: HEARTBEAT_MAX_INSTANCES })
  instances!: InstanceReportDto[];

  @ApiPropertyOptional({
    type: String,
    format: 'uuid',
    isArray: true,
    maxItems: HEARTBEAT_MAX_INSTANCES,
    description: 'instances that left the node since the last answered heartbeat, as a full report lacking them',
  })
  gone?: string[];

  @ApiPropertyOptional({
    type: Boolean,
    default: true,
    description: 'false: `instances` holds only the reports that changed since the last answered heartbeat',
  })
  full?: boolean;

  @ApiPropertyOptional({
    type: String,
    maxLength: 64,
    description: 'the `desiredVersion` of the desired set the agent holds',
  })
  desiredVersion?: string;

  @ApiPropertyOptional({
    type: String,
    isArray: true,
    maxItems: HEARTBEAT_MAX_INSTANCES,
    description: 'volumes of `removeVolumes` the node removed (or never had) since its last answered heartbeat',
  })
  removedVolumes?: string[];
}

export class NodeSummaryView implements NodeSummary {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String })
  name!: string;

  @ApiProperty({ type: String, enum: ['up', 'down', 'draining'] })
  state!: 'up' | 'down' | 'draining';
}

export class RegisterAnswerView implements RegisterAnswer {
  @ApiProperty({ type: NodeSummaryView })
  node!: NodeSummaryView;

  @ApiProperty({ type: Number, description: 'how often to send heartbeats, in ms' })
  heartbeatMs!: number;
}

type Check<K extends DeployCheck['kind']> = Extract<DeployCheck, { kind: K }>;

/** How an HTTP deploy check is tried; the fields of the protocol's DeployCheck (scheduling/checks.ts). */
class CheckTimingView {
  @ApiProperty({ type: Number })
  attempts!: number;

  @ApiProperty({ type: Number })
  timeoutMs!: number;

  @ApiProperty({ type: Number })
  intervalMs!: number;

  @ApiProperty({ type: Number })
  initialDelayMs!: number;
}

export class HttpCheckView extends CheckTimingView implements Check<'http'> {
  @ApiProperty({ type: String, enum: ['http'] })
  kind!: 'http';

  @ApiProperty({ type: String, example: '/health' })
  path!: string;

  @ApiProperty({ type: Number })
  port!: number;

  @ApiPropertyOptional({ type: String, description: 'the answer must contain it' })
  content?: string;

  @ApiProperty({ type: Boolean, description: 'any status below 500 passes (web without checks)' })
  anyStatus!: boolean;
}

export class TcpCheckView extends CheckTimingView implements Check<'tcp'> {
  @ApiProperty({ type: String, enum: ['tcp'] })
  kind!: 'tcp';

  @ApiProperty({ type: Number })
  port!: number;
}

export class UptimeCheckView implements Check<'uptime'> {
  @ApiProperty({ type: String, enum: ['uptime'] })
  kind!: 'uptime';

  @ApiProperty({ type: Number, description: 'how long the process must keep running' })
  ms!: number;
}

const CHECK_VIEWS = [HttpCheckView, TcpCheckView, UptimeCheckView];

export class ServiceEndpointView implements ServiceEndpoint {
  @ApiProperty({ type: String, example: '10.0.0.2' })
  address!: string;

  @ApiProperty({ type: Number, example: 20000 })
  port!: number;
}

/** What makes an add-on's entry differ from an app instance's (protocol.ts DesiredAddon). */
export class DesiredAddonView implements DesiredAddon {
  @ApiProperty({ type: String, example: 'postgres-amber-12345' })
  name!: string;

  @ApiProperty({ type: String, example: 'postgres' })
  type!: string;

  @ApiProperty({
    type: String,
    example: 'addon-postgres-amber-12345-0f3a9c1e',
    description: 'its named volume on the node',
  })
  volume!: string;

  @ApiProperty({ type: String, example: '/var/lib/postgresql/data', description: 'where the volume is mounted' })
  target!: string;

  @ApiProperty({ type: Number, example: 20000, description: "published at the node's service address on this port" })
  hostPort!: number;

  @ApiProperty({
    type: Boolean,
    description: 'never up yet: only then may the node make its volume (a missing one later is lost data)',
  })
  fresh!: boolean;
}

/** One instance a node should run: the protocol's DesiredInstance. */
@ApiExtraModels(...CHECK_VIEWS)
export class DesiredInstanceView implements DesiredInstance {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, format: 'uuid' })
  appId!: string;

  @ApiProperty({ type: String, example: 'shop' })
  app!: string;

  @ApiProperty({ type: String, example: 'web' })
  type!: string;

  @ApiProperty({ type: Number, example: 1 })
  number!: number;

  @ApiProperty({ type: String, format: 'uuid' })
  releaseId!: string;

  @ApiProperty({ type: Number, example: 3 })
  version!: number;

  @ApiProperty({
    type: String,
    example: '127.0.0.1:5000/shop:v3',
    description: 'the release image as the build pushed it',
  })
  image!: string;

  @ApiProperty({ type: String, nullable: true })
  imageDigest!: string | null;

  @ApiProperty({ type: String, nullable: true, description: "run with sh -c; null: the image's own command" })
  command!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: "the release's config vars plus PORT and DYNO",
  })
  env!: Record<string, string>;

  @ApiProperty({ type: String, example: 'basic', description: 'its size (sizes.ts)' })
  size!: string;

  @ApiProperty({ type: Number, description: 'memory limit in MiB' })
  memory!: number;

  @ApiProperty({ type: Number, description: 'CPU weight (cgroup cpu.shares)' })
  cpuShares!: number;

  @ApiProperty({ type: Number, nullable: true, description: 'hard CPU limit in thousandths of a core, or none' })
  cpuQuota!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'the port published for the router (web)' })
  port!: number | null;

  @ApiProperty({
    type: Object,
    oneOf: CHECK_VIEWS.map((view) => ({ $ref: getSchemaPath(view) })),
    discriminator: {
      propertyName: 'kind',
      mapping: {
        http: getSchemaPath(HttpCheckView),
        tcp: getSchemaPath(TcpCheckView),
        uptime: getSchemaPath(UptimeCheckView),
      },
    },
    description: 'what the instance must pass before a deploy counts it in',
  })
  check!: DeployCheck;

  @ApiProperty({ type: Number, description: 'seconds between the stop signal and SIGKILL' })
  stopTimeout!: number;

  @ApiPropertyOptional({
    type: ServiceEndpointView,
    isArray: true,
    description: 'the add-on endpoints the container may connect to: those of the add-ons its app is attached to',
  })
  reach?: ServiceEndpointView[];

  @ApiPropertyOptional({ type: DesiredAddonView, description: "present when the entry is an add-on's container" })
  addon?: DesiredAddonView;
}

export class HeartbeatAnswerView extends RegisterAnswerView implements Omit<HeartbeatAnswerSameSet, 'instances'> {
  @ApiProperty({ type: String, example: '127.0.0.1:5000', description: 'the registry release images are in' })
  registry!: string;

  @ApiProperty({ type: Number, description: 'ms a leaving instance keeps serving in-flight requests' })
  drainMs!: number;

  @ApiProperty({ type: String, description: 'a fingerprint of the desired set, for the next heartbeat to echo' })
  desiredVersion!: string;

  @ApiProperty({
    type: DesiredInstanceView,
    isArray: true,
    nullable: true,
    description: 'every instance the node should run; null when the set is the one of the echoed desiredVersion',
  })
  instances!: DesiredInstanceView[] | null;

  @ApiProperty({ type: Boolean, description: 'the next heartbeat should report every instance' })
  fullReport!: boolean;

  @ApiPropertyOptional({
    type: String,
    isArray: true,
    description:
      'named volumes of destroyed add-ons on the node: removed once no container uses them, then listed in removedVolumes',
  })
  removeVolumes?: string[];
}
