import { Controller, Get, Inject, Logger } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { VERSION } from '@paas/config';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { Public } from '../auth/decorators';
import { ApiError } from '../common/api-error';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { LeaderElector } from '../scheduler/leader';
import { SchedulerService } from '../scheduler/scheduler.service';

/** How long readiness waits for the database or Redis before calling it unreachable. */
const PROBE_TIMEOUT_MS = 2000;

export class HealthView {
  @ApiProperty({ type: String, enum: ['ok'] })
  status!: 'ok';

  @ApiProperty({ type: String })
  version!: string;

  @ApiProperty({ type: Number })
  uptimeSeconds!: number;

  @ApiProperty({
    type: Boolean,
    description: 'whether this api runs the scheduler (one api of those sharing a database does)',
  })
  leader!: boolean;
}

export class ReadinessView {
  @ApiProperty({ type: String, enum: ['ready'] })
  status!: 'ready';

  @ApiProperty({ type: Boolean, description: 'whether this api runs the scheduler' })
  leader!: boolean;
}

export class LeaderView {
  @ApiProperty({ type: String, example: 'host-1 pid 4242', description: 'the api process that leads' })
  holder!: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: '10.0.0.1:7000', description: 'where its API listens' })
  address!: string | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'when it took office' })
  since!: string | null;

  @ApiProperty({ type: Number, description: 'its term: every api taking office increments it' })
  term!: number;
}

export class ControlPlaneView {
  @ApiProperty({
    type: LeaderView,
    nullable: true,
    description: 'the api that runs the scheduler, as it recorded itself on taking office (null: none yet)',
  })
  leader!: LeaderView | null;

  @ApiProperty({ type: String, description: 'the api that answered: `HOST pid PID`' })
  self!: string;

  @ApiProperty({ type: Boolean, description: 'whether the api that answered leads' })
  selfLeads!: boolean;
}

/**
 * `work`, or ApiError `unavailable` naming `what` when it fails or takes longer than
 * PROBE_TIMEOUT_MS. The endpoint is public: the cause (addresses, users) goes to the log only.
 */
async function probe<T>(what: string, work: Promise<T>, logger: Logger): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    logger.warn(`not ready: ${what}: ${(err as Error).message}`);
    throw new ApiError('unavailable', `not ready: ${what} does not answer`);
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly startedAt = process.hrtime.bigint();
  private readonly logger = new Logger('health');

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  /** Liveness: answered while the process serves, whatever its database and Redis do. */
  @Public()
  @Get()
  @ApiOkResponse({ type: HealthView })
  health(): HealthView {
    const uptime = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    return {
      status: 'ok',
      version: VERSION,
      uptimeSeconds: Math.round(uptime * 1000) / 1000,
      leader: this.scheduler.leader.leading,
    };
  }

  /** Readiness: the database and Redis answer (503 `unavailable` naming the one that does not). */
  @Public()
  @Get('ready')
  @ApiOkResponse({ type: ReadinessView })
  async ready(): Promise<ReadinessView> {
    await probe('the database', this.dataSource.query('SELECT 1'), this.logger);
    await probe('Redis', this.redis.ping(), this.logger);
    return { status: 'ready', leader: this.scheduler.leader.leading };
  }
}

/** Which api of those sharing the database runs the scheduler (`paas nodes`, the dashboard). */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('control-plane')
export class ControlPlaneController {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  @Get()
  @ApiOkResponse({ type: ControlPlaneView })
  async show(): Promise<ControlPlaneView> {
    const row = await LeaderElector.current(this.dataSource);
    return {
      leader: row && { holder: row.holder ?? '', address: row.address, since: row.since, term: row.epoch },
      self: this.scheduler.leader.holder,
      selfLeads: this.scheduler.leader.leading,
    };
  }
}
