import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { ReleaseRef } from '../apps/apps.dto';
import { OptionalField } from '../common/validation';

/** `POST /instances/restart`: all of them, one process type, or one instance. */
export class RestartDto {
  @ApiPropertyOptional({ type: String, example: 'web', description: 'TYPE or TYPE.N; all when absent' })
  @OptionalField()
  @IsString()
  @MaxLength(40)
  process?: string;
}

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

  @ApiProperty({ type: String, example: 'basic', description: 'its size (the formation may since ask for another)' })
  size!: string;

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
