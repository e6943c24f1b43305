import { ApiProperty } from '@nestjs/swagger';

export class NodeView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'node-1' })
  name!: string;

  @ApiProperty({ type: String, example: '10.0.0.2:7100' })
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
