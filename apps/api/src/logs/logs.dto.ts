import { ApiPropertyOptional } from '@nestjs/swagger';
import { APP_LOG_MAX } from '@paas/platform';
import { Type } from 'class-transformer';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { OptionalField } from '../common/validation';

export class LogsQueryDto {
  @ApiPropertyOptional({
    type: Number,
    minimum: 0,
    maximum: APP_LOG_MAX,
    default: 100,
    description: 'how many past lines',
  })
  @OptionalField()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(APP_LOG_MAX)
  tail?: number;

  @ApiPropertyOptional({
    type: String,
    enum: ['0', '1', 'true', 'false'],
    default: '0',
    description: 'keep streaming new lines',
  })
  @OptionalField()
  @IsIn(['0', '1', 'true', 'false'])
  follow?: string;
}
