import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NODE_NAME, NODE_NAME_RULE } from '@paas/platform';
import { IsIP, IsString, Matches } from 'class-validator';
import { OptionalField } from '../common/validation';

/** `30s`, `15m`, `1h`, `24h`: how long a join token lives (JOIN_TTL_MIN..JOIN_TTL_MAX). */
export const TTL = /^([1-9]\d{0,5})([smh])$/;

export class CreateJoinTokenDto {
  @ApiPropertyOptional({
    type: String,
    example: '1h',
    default: '1h',
    description: 'how long the token lives: a number and s, m or h; 1 minute to 24 hours',
  })
  @OptionalField()
  @IsString()
  @Matches(TTL, { message: 'ttl must be a number and s, m or h, such as 30m or 1h' })
  ttl?: string;
}

export class JoinTokenView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'pjoin_1a2B3c4', description: 'the first characters, to tell tokens apart' })
  prefix!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when a node joined with it' })
  usedAt!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'the node that joined with it' })
  nodeName!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}

export class IssuedJoinTokenView extends JoinTokenView {
  @ApiProperty({ type: String, example: 'pjoin_…', description: 'the token itself, shown this once' })
  token!: string;

  @ApiProperty({
    type: String,
    example: 'sha256:5f1c…',
    description: "sha256 of the platform CA's SubjectPublicKeyInfo: the joining node pins it",
  })
  caHash!: string;

  @ApiProperty({
    type: String,
    example: 'paas node join https://10.0.0.1:7000 --token pjoin_… --ca-hash sha256:…',
    description: 'the one command to run on the new machine, with the URL this request came in by',
  })
  command!: string;
}

/** `POST /api/nodes/join`: the new node's name and address. */
export class JoinNodeDto {
  @ApiProperty({ type: String, pattern: NODE_NAME.source, example: 'node-2' })
  @IsString()
  @Matches(NODE_NAME, { message: `name must be ${NODE_NAME_RULE}` })
  name!: string;

  @ApiPropertyOptional({
    type: String,
    example: '10.0.0.2',
    description: "the node's IPv4 address, as the router reaches it",
  })
  @OptionalField()
  @IsString()
  @IsIP(4, { message: 'address must be an IPv4 address' })
  address?: string;
}

export class JoinRegistryView {
  @ApiProperty({ type: String, example: '10.0.0.1:5000', description: 'the platform registry as nodes reach it' })
  address!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "the nodes' pull-only login; null: none on this control plane",
  })
  username!: string | null;

  @ApiProperty({ type: String, nullable: true })
  password!: string | null;
}

export class JoinAnswerView {
  @ApiProperty({ type: String, example: 'node-2' })
  name!: string;

  @ApiProperty({
    type: String,
    example: 'paas_…',
    description: "the node's own credential, bound to its name; shown this once",
  })
  nodeToken!: string;

  @ApiProperty({ type: String, example: 'https://10.0.0.1:7000', description: 'the api as this request reached it' })
  apiUrl!: string;

  @ApiProperty({ type: JoinRegistryView })
  registry!: JoinRegistryView;
}
