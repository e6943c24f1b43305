import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ReleaseRef } from '../apps/apps.dto';

export class BuildView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: Number, description: 'per-app build number' })
  number!: number;

  @ApiProperty({ type: String, enum: ['pending', 'building', 'succeeded', 'failed'] })
  status!: string;

  @ApiProperty({ type: String, description: 'the pushed commit' })
  commit!: string;

  @ApiProperty({ type: String, example: 'refs/heads/main' })
  ref!: string;

  @ApiProperty({ type: String, nullable: true, example: 'node', description: 'dockerfile, node or static' })
  stack!: string | null;

  @ApiProperty({ type: String, nullable: true })
  imageRef!: string | null;

  @ApiProperty({ type: String, nullable: true })
  imageDigest!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, nullable: true })
  processTypes!: Record<string, string> | null;

  @ApiProperty({ type: String, nullable: true })
  error!: string | null;

  @ApiProperty({ type: ReleaseRef, nullable: true, description: 'the release the build made' })
  release!: ReleaseRef | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;

  @ApiPropertyOptional({ type: String, description: 'the whole log of a finished build (GET of one build only)' })
  output?: string;
}
