import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { APP_NAME, APP_NAME_RULE } from '@paas/platform';
import { ArrayMaxSize, ArrayUnique, IsArray, IsBoolean, IsOptional, IsString, Length, Matches } from 'class-validator';
import { OptionalField } from '../common/validation';

export class CreateTokenDto {
  @ApiProperty({ type: String, example: 'ci', description: 'what the token is for' })
  @IsString()
  @Length(1, 100)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  name!: string;

  @ApiPropertyOptional({
    type: String,
    isArray: true,
    nullable: true,
    description: 'app names the token may use; null or absent for every app',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(APP_NAME, { each: true, message: `each of apps must be ${APP_NAME_RULE}` })
  apps?: string[] | null;

  @ApiPropertyOptional({ type: Boolean, default: false, description: 'may manage tokens and nodes' })
  @OptionalField()
  @IsBoolean()
  admin?: boolean;

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description: "an agent's: may register a node and send its heartbeats, nothing else",
  })
  @OptionalField()
  @IsBoolean()
  node?: boolean;
}

export class TokenView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String })
  name!: string;

  @ApiProperty({ type: String, example: 'paas_1a2B3c4', description: 'the first characters, to tell tokens apart' })
  prefix!: string;

  @ApiProperty({ type: String, isArray: true, nullable: true })
  apps!: string[] | null;

  @ApiProperty({ type: Boolean })
  admin!: boolean;

  @ApiProperty({ type: Boolean, description: "an agent's token" })
  node!: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'to the minute' })
  lastUsedAt!: string | null;
}

export class IssuedTokenView extends TokenView {
  @ApiProperty({ type: String, example: 'paas_…', description: 'the token itself, shown this once' })
  token!: string;
}
