import { ApiProperty } from '@nestjs/swagger';
import type { ReleaseStatus } from '@paas/platform';
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

  @ApiProperty({
    type: String,
    enum: ['building', 'deploying', 'live', 'failed', 'superseded'],
    description:
      'building: its image is pushed and its release command runs; deploying: its instances start while the live release serves; live: the router sends the app to it; failed: see error; superseded: a newer release took effect',
  })
  status!: ReleaseStatus;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'when the router switched to it; null while it never served',
  })
  liveAt!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'why it failed (its release command, a lost build, instances that did not pass their checks)',
  })
  error!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'what holds a deploying release back, e.g. no node has room for its instances',
  })
  waiting!: string | null;

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

  @ApiProperty({
    type: Boolean,
    description: "the app's current release: the one deploying, else the live one (status says which)",
  })
  current!: boolean;

  @ApiProperty({ type: String, nullable: true, description: 'the name of the token that made it' })
  createdBy!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}
