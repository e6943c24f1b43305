import { ApiProperty } from '@nestjs/swagger';
import { HOSTNAME } from '@paas/platform';
import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';

export class AddDomainDto {
  @ApiProperty({ type: String, example: 'www.example.com', description: 'a fully qualified host name' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsString()
  @Matches(HOSTNAME, { message: 'hostname must be a fully qualified host name such as www.example.com' })
  hostname!: string;
}

export class DomainView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'www.example.com' })
  hostname!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}
