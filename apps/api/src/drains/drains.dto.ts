import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';

export class AddDrainDto {
  @ApiProperty({
    type: String,
    example: 'syslog+tls://logs.example.com:6514',
    description:
      'https:// or http:// (a logplex POST per batch; user and password sent as Basic auth), syslog+tls://HOST:PORT or syslog://HOST:PORT (RFC 5424 over TLS or TCP)',
  })
  @IsString()
  url!: string;
}

export class DrainView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'https://user:***@logs.example.com/drain', description: 'any password masked' })
  url!: string;

  @ApiProperty({
    type: String,
    example: 'd.0b5e6a9e-6f1c-4b8e-9d43-5a3f0f7f2c11',
    description: 'sent as Logplex-Drain-Token',
  })
  token!: string;

  @ApiProperty({
    enum: ['delivering', 'failing'],
    description: 'failing: the last delivery failed (failingSince, lastError)',
  })
  state!: 'delivering' | 'failing';

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  failingSince!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'connect ECONNREFUSED 203.0.113.7:6514' })
  lastError!: string | null;

  @ApiProperty({ type: Number, description: 'lines delivered since the drain was added' })
  delivered!: number;

  @ApiProperty({
    type: Number,
    description: 'lines it missed: trimmed from the log (oldest first) while it could not deliver',
  })
  dropped!: number;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}
