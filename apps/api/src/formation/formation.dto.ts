import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_QUANTITY, PROCESS_TYPE, PROCESS_TYPE_RULE } from '@paas/platform';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { OptionalField } from '../common/validation';

/** Bounds from docs/api.md: memory in MiB, cpu in thousandths of a core. */
const MEMORY_MIN = 16;
const MEMORY_MAX = 65_536;
const CPU_MIN = 10;
const CPU_MAX = 64_000;

/** `PATCH /formation/:type`: what to change of one process type. */
export class FormationChangeDto {
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: MAX_QUANTITY, example: 3 })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_QUANTITY)
  quantity?: number;

  @ApiPropertyOptional({ type: Number, minimum: MEMORY_MIN, maximum: MEMORY_MAX, description: 'MiB per instance' })
  @OptionalField()
  @IsInt()
  @Min(MEMORY_MIN)
  @Max(MEMORY_MAX)
  memory?: number;

  @ApiPropertyOptional({
    type: Number,
    minimum: CPU_MIN,
    maximum: CPU_MAX,
    description: 'thousandths of a core per instance',
  })
  @OptionalField()
  @IsInt()
  @Min(CPU_MIN)
  @Max(CPU_MAX)
  cpu?: number;
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

export class FormationView {
  @ApiProperty({ type: String, example: 'web' })
  type!: string;

  @ApiProperty({ type: Number })
  quantity!: number;

  @ApiProperty({ type: Number, description: 'MiB per instance' })
  memory!: number;

  @ApiProperty({ type: Number, description: 'thousandths of a core per instance' })
  cpu!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'the command of the current release',
    example: 'npm start',
  })
  command!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}
