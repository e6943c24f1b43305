import { ApiProperty } from '@nestjs/swagger';
import { ReleaseRef } from '../apps/apps.dto';

export class InstanceView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'web.1' })
  name!: string;

  @ApiProperty({ type: String, example: 'web' })
  type!: string;

  @ApiProperty({ type: Number, example: 1 })
  number!: number;

  @ApiProperty({ type: String, enum: ['starting', 'up', 'crashed', 'stopping', 'down'] })
  state!: string;

  @ApiProperty({ type: ReleaseRef })
  release!: ReleaseRef;

  @ApiProperty({ type: String, nullable: true, description: 'the node it runs on' })
  node!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '10.88.0.5:5000' })
  address!: string | null;

  @ApiProperty({ type: String, nullable: true })
  containerId!: string | null;

  @ApiProperty({ type: Number, nullable: true })
  memoryBytes!: number | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}
