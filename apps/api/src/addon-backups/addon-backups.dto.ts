import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, IsUUID, Max, MaxLength, Min, ValidateIf } from 'class-validator';

/** One backup of a PostgreSQL add-on (`pg:backups`). */
export class BackupView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({
    type: String,
    example: 'b003',
    description: "its number among its add-on's backups, as Heroku names them",
  })
  name!: string;

  @ApiProperty({ type: Number, example: 3 })
  number!: number;

  @ApiProperty({
    type: String,
    example: 'postgres-amber-12345',
    description: 'the add-on it was taken of (kept after that add-on is destroyed)',
  })
  addon!: string;

  @ApiProperty({ type: String, enum: ['postgres', 'redis'] })
  addonType!: 'postgres' | 'redis';

  @ApiProperty({ type: String, enum: ['running', 'succeeded', 'failed'] })
  state!: 'running' | 'succeeded' | 'failed';

  @ApiProperty({
    type: String,
    nullable: true,
    example: `sha256:${'ab'.repeat(32)}`,
    description: 'the dump (pg_dump custom format) in the backups store',
  })
  digest!: string | null;

  @ApiProperty({ type: Number, nullable: true, description: 'bytes of the dump' })
  size!: number | null;

  @ApiProperty({ type: String, enum: ['manual', 'scheduled'] })
  trigger!: string;

  @ApiProperty({ type: String, nullable: true, description: "why it failed (pg_dump's message)" })
  error!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finishedAt!: string | null;
}

export class RestoreBackupDto {
  @ApiProperty({
    type: String,
    format: 'uuid',
    description: 'the backup to restore (of this or another postgres add-on)',
  })
  @IsUUID()
  backup!: string;

  @ApiProperty({
    type: String,
    description: "the add-on's name or the name of an app attached to it: the data it holds is replaced",
  })
  @IsString()
  @MaxLength(63)
  confirm!: string;
}

export class RestoreView {
  @ApiProperty({ type: String, example: 'postgres-amber-12345', description: 'the add-on restored into' })
  addon!: string;

  @ApiProperty({ type: BackupView })
  backup!: BackupView;
}

export class BackupScheduleDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: 23,
    description: 'the UTC hour of a daily backup, or null for none',
  })
  @ValidateIf((_o: object, value: unknown) => value !== null)
  @IsInt()
  @Min(0)
  @Max(23)
  hour!: number | null;
}

export class BackupScheduleView {
  @ApiProperty({ type: String, example: 'postgres-amber-12345' })
  addon!: string;

  @ApiProperty({ type: Number, nullable: true, description: 'the UTC hour of its daily backup, or null for none' })
  hour!: number | null;
}
