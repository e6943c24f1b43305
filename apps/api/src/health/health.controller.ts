/**
 * Liveness (`GET /api/health`: the process answers) and readiness (`GET /api/health/ready`:
 * its database and Redis answer) of this api, for load balancers and `paas up`'s probe; both
 * public, both saying whether this api runs the scheduler (only one of those sharing a
 * database does).
 */
import { Controller, Get, Inject, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { VERSION } from '@paas/config';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { Public } from '../auth/decorators';
import { ApiError } from '../common/api-error';
import { DATA_SOURCE, REDIS } from '../core/tokens';
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
