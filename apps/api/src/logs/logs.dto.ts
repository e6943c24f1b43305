import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
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

/** One line of an app's log, the data of each event `GET /logs` sends. */
export class LogLineView {
  @ApiProperty({ type: String, format: 'date-time' })
  t!: string;

  @ApiProperty({ type: String, example: 'web.1', description: 'who said it: an instance, or build, api, release…' })
  source!: string;

  @ApiProperty({ type: String })
  line!: string;
}
