import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorBody, ErrorDetail } from './api-error';

/** The documented form of {@link ErrorBody}: what every error answer of the api is. */
export class ErrorDetailView implements ErrorDetail {
  @ApiProperty({ type: String, example: 'name' })
  field!: string;

  @ApiProperty({ type: String, example: 'matches', description: 'the rule it broke' })
  rule!: string;

  @ApiProperty({ type: String })
  message!: string;
}

export class ErrorView implements ErrorBody {
  @ApiProperty({ type: String, example: 'not_found', description: 'stable, for programs (docs/api.md "Errors")' })
  code!: string;

  @ApiProperty({ type: String, description: 'for people' })
  message!: string;

  @ApiPropertyOptional({ type: ErrorDetailView, isArray: true, description: 'one entry per field that broke a rule' })
  details?: ErrorDetailView[];
}
