import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  DURATION_RULE,
  MAX_CONCURRENCY,
  MAX_QUANTITY,
  PROCESS_TYPE,
  PROCESS_TYPE_RULE,
  SIZE_MEMORY_MAX,
  SIZE_MEMORY_MIN,
  SIZE_RULE,
  SIZES,
  isSize,
} from '@paas/platform';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { OptionalField } from '../common/validation';

/** A size sizes.ts knows: a name, or a memory amount. */
const IsSize = (): PropertyDecorator =>
  ValidateBy({
    name: 'isSize',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isSize(value),
      defaultMessage: () => `size must be ${SIZE_RULE}`,
    },
  });

/** `PATCH /formation/:type`: what to change of one process type. */
export class FormationChangeDto {
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: MAX_QUANTITY, example: 3 })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_QUANTITY)
  quantity?: number;

  @ApiPropertyOptional({
    type: String,
    example: 'basic',
    description: `${SIZES.map((s) => s.name).join(', ')}, or a memory amount (512M, 1G) for a custom size`,
  })
  @OptionalField()
  @IsString()
  @MaxLength(32)
  @IsSize()
  size?: string;

  @ApiPropertyOptional({
    type: Number,
    minimum: SIZE_MEMORY_MIN,
    maximum: SIZE_MEMORY_MAX,
    description: 'MiB per instance: a custom size (the same as size "<MiB>M")',
  })
  @OptionalField()
  @IsInt()
  @Min(SIZE_MEMORY_MIN)
  @Max(SIZE_MEMORY_MAX)
  memory?: number;
}

export class FormationUpdateDto extends FormationChangeDto {
  @ApiProperty({ type: String, pattern: PROCESS_TYPE.source, example: 'web' })
  @IsString()
  @Matches(PROCESS_TYPE, { message: `type must be ${PROCESS_TYPE_RULE}` })
  type!: string;
}

/** `PATCH /formation`: Heroku's batch update. */
export class FormationBatchDto {
  @ApiProperty({ type: FormationUpdateDto, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => FormationUpdateDto)
  updates!: FormationUpdateDto[];
}

/** `PUT /formation/:type/autoscale`: the settings of `ps:autoscale:enable`. */
export class AutoscaleDto {
  @ApiProperty({ type: Number, minimum: 0, maximum: MAX_QUANTITY, example: 0, description: '0: sleeps when idle' })
  @IsInt()
  @Min(0)
  @Max(MAX_QUANTITY)
  min!: number;

  @ApiProperty({ type: Number, minimum: 1, maximum: MAX_QUANTITY, example: 5 })
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  max!: number;

  @ApiProperty({
    type: Number,
    minimum: 1,
    maximum: MAX_CONCURRENCY,
    example: 20,
    description: 'requests in flight per instance',
  })
  @IsInt()
  @Min(1)
  @Max(MAX_CONCURRENCY)
  concurrency!: number;

  @ApiProperty({ type: String, example: '15m', description: `the quiet period before scaling down: ${DURATION_RULE}` })
  @IsString()
  @MaxLength(16)
  idle!: string;

  @ApiPropertyOptional({
    type: Number,
    minimum: 1,
    maximum: MAX_CONCURRENCY,
    example: 40,
    description:
      'requests in flight per instance a router worker never exceeds (at least concurrency); beyond, they queue at the router, then answer 503. Absent: no limit',
  })
  @OptionalField()
  @IsInt()
  @Min(1)
  @Max(MAX_CONCURRENCY)
  hardLimit?: number;
}

export class AutoscaleView {
  @ApiProperty({ type: Number })
  min!: number;

  @ApiProperty({ type: Number })
  max!: number;

  @ApiProperty({ type: Number })
  concurrency!: number;

  @ApiProperty({ type: String, example: '15m' })
  idle!: string;

  @ApiProperty({ type: Number, example: 900000 })
  idleMs!: number;

  @ApiProperty({ type: Number, nullable: true, example: 40, description: 'null: no hard limit' })
  hardLimit!: number | null;
}

export class FormationView {
  @ApiProperty({ type: String, example: 'web' })
  type!: string;

  @ApiProperty({ type: Number })
  quantity!: number;

  @ApiProperty({ type: String, example: 'basic', description: 'the size of each instance' })
  size!: string;

  @ApiProperty({ type: Number, description: 'MiB per instance (of the size)' })
  memory!: number;

  @ApiProperty({ type: Number, description: 'CPU weight per instance (cgroup cpu.shares; 1024 = 512 MiB)' })
  cpuShares!: number;

  @ApiProperty({ type: Number, nullable: true, description: 'hard CPU limit in thousandths of a core, or none' })
  cpuQuota!: number | null;

  @ApiProperty({ type: Number, description: 'instances of the current release that are up' })
  up!: number;

  @ApiProperty({ type: Number, description: 'instances no node has room for now' })
  waiting!: number;

  @ApiProperty({ type: String, nullable: true, example: 'no node has 512 MiB free' })
  waitingReason!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'the command of the current release',
    example: 'npm start',
  })
  command!: string | null;

  @ApiProperty({ type: AutoscaleView, nullable: true, description: 'null: autoscale is off' })
  autoscale!: AutoscaleView | null;

  @ApiProperty({ type: Boolean, description: 'scaled to zero by its autoscale; the next request wakes it' })
  sleeping!: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}
