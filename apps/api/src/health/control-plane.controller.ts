/**
 * Which api of those sharing the database runs the scheduler, as the leader recorded itself on
 * taking office (scheduler/leader.ts), and whether the api that answered is it: `paas nodes`
 * and the dashboard's nodes page show it.
 */
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { DataSource } from 'typeorm';
import { AdminOnly } from '../auth/decorators';
import { DATA_SOURCE } from '../core/tokens';
import { LeaderElector } from '../scheduler/leader';
import { SchedulerService } from '../scheduler/scheduler.service';

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

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('control-plane')
export class ControlPlaneController {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  /** Admins only: the control plane's hosts are the operator's business, not an app token's. */
  @Get()
  @AdminOnly()
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
