import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

export class RollbackDto {
  @ApiProperty({ type: Number, example: 12, description: 'the version to roll back to' })
  @IsInt()
  @Min(1)
  @Max(2 ** 31 - 1)
  release!: number;
}

export class ReleaseView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: Number, example: 12 })
  version!: number;

  @ApiProperty({ type: String, enum: ['pending', 'succeeded', 'failed'] })
  status!: string;

  @ApiProperty({ type: String, example: 'Deploy 1a2b3c4' })
  description!: string;

  @ApiProperty({ type: String, nullable: true, example: '127.0.0.1:5000/my-app:v12' })
  imageRef!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'sha256:…' })
  imageDigest!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'the config vars this release runs with',
  })
  config!: Record<string, string>;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { web: 'npm start' } })
  processTypes!: Record<string, string>;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  buildId!: string | null;

  @ApiProperty({ type: Boolean, description: 'whether this release serves now' })
  current!: boolean;

  @ApiProperty({ type: String, nullable: true, description: 'the name of the token that made it' })
  createdBy!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}
