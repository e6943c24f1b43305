import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsInt, Max, Min, ValidateIf } from 'class-validator';
import { OptionalField } from '../common/validation';

/** Ten years: what the routers accept (libs/platform routes.ts). */
export const MAX_HSTS_MAX_AGE = 10 * 365 * 86_400;

export class HttpsSettingsDto {
  @ApiProperty({ type: Boolean, required: false, description: 'answer plain HTTP with a 308 to https://' })
  @OptionalField()
  @IsBoolean()
  httpsRedirect?: boolean;

  @ApiProperty({
    type: Number,
    nullable: true,
    required: false,
    example: 31536000,
    description: 'Strict-Transport-Security max-age in seconds on HTTPS answers; null: no HSTS',
  })
  @ValidateIf((_o: object, value: unknown) => value !== undefined && value !== null)
  @IsInt()
  @Min(0)
  @Max(MAX_HSTS_MAX_AGE)
  hstsMaxAge?: number | null;
}

export class HttpsView {
  @ApiProperty({ type: Boolean })
  httpsRedirect!: boolean;

  @ApiProperty({ type: Number, nullable: true })
  hstsMaxAge!: number | null;
}
