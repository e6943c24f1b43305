import { Controller, Get } from '@nestjs/common';
import { VERSION } from '@paas/config';
import { Public } from '../auth/decorators';

export interface Health {
  status: 'ok';
  version: string;
  uptimeSeconds: number;
}

@Public()
@Controller('health')
export class HealthController {
  private readonly startedAt = process.hrtime.bigint();

  /** Liveness and readiness: answered once the api has finished starting. */
  @Get()
  health(): Health {
    const uptime = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    return { status: 'ok', version: VERSION, uptimeSeconds: Math.round(uptime * 1000) / 1000 };
  }
}
