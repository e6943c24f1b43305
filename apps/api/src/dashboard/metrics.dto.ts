import { ApiProperty } from '@nestjs/swagger';

/** One point of an app's history. */
export class MetricsSampleView {
  @ApiProperty({ type: Number, description: 'ms since the epoch' })
  t!: number;

  @ApiProperty({ type: Number, description: 'over all routers' })
  requestsPerSecond!: number;

  @ApiProperty({ type: Number, description: 'instances that should run' })
  instances!: number;

  @ApiProperty({ type: Number, description: 'of those, the ones up' })
  up!: number;
}

export class StatusCountsView {
  @ApiProperty({ type: Number })
  '2xx'!: number;

  @ApiProperty({ type: Number })
  '3xx'!: number;

  @ApiProperty({ type: Number })
  '4xx'!: number;

  @ApiProperty({ type: Number })
  '5xx'!: number;
}

export class InstanceCountsView {
  @ApiProperty({ type: Number })
  total!: number;

  @ApiProperty({ type: Number })
  up!: number;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { up: 2, starting: 1 } })
  byState!: Record<string, number>;
}

/**
 * `GET /api/apps/:app/metrics`: an app's request rate (summed over the routers) and instance
 * counts, now and sampled over the last minutes, as MetricsService makes it.
 */
export class AppMetricsView {
  @ApiProperty({ type: String, example: 'my-app' })
  app!: string;

  @ApiProperty({ type: Number, description: 'ms since the epoch' })
  time!: number;

  @ApiProperty({ type: Number, description: 'routers whose fresh metrics were summed' })
  routers!: number;

  @ApiProperty({ type: Number, description: 'since each router started' })
  requests!: number;

  @ApiProperty({ type: Number })
  requestsPerSecond!: number;

  @ApiProperty({ type: Number })
  inflight!: number;

  @ApiProperty({ type: Number })
  bytes!: number;

  @ApiProperty({ type: StatusCountsView })
  status!: StatusCountsView;

  @ApiProperty({ type: InstanceCountsView })
  instances!: InstanceCountsView;

  @ApiProperty({ type: Number, description: 'how often history is sampled' })
  intervalMs!: number;

  @ApiProperty({ type: MetricsSampleView, isArray: true, description: 'oldest first' })
  samples!: MetricsSampleView[];
}
