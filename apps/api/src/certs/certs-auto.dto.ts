import { ApiProperty } from '@nestjs/swagger';

/** One identifier's failure inside a problem (RFC 8555 6.7.1). */
export class AcmeSubproblemView {
  @ApiProperty({ type: String, example: 'www.example.com' })
  identifier!: string;

  @ApiProperty({ type: String, example: 'urn:ietf:params:acme:error:connection' })
  type!: string;

  @ApiProperty({ type: String })
  detail!: string;

  @ApiProperty({ type: Number, required: false, example: 400 })
  status?: number;
}

/** The ACME server's problem document (RFC 7807), or one of ours (`paas:acme:*`) for what never reached it. */
export class AcmeProblemView {
  @ApiProperty({ type: String, example: 'urn:ietf:params:acme:error:unauthorized' })
  type!: string;

  @ApiProperty({ type: String, example: '1 of 1 authorizations failed: www.example.com: ...' })
  detail!: string;

  @ApiProperty({ type: Number, required: false, example: 403 })
  status?: number;

  @ApiProperty({ type: AcmeSubproblemView, isArray: true })
  subproblems!: AcmeSubproblemView[];
}

/** A custom domain's certificate from ACME. */
export class DomainCertStateView {
  @ApiProperty({ type: String, example: 'www.example.com' })
  hostname!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    enum: ['waiting', 'issuing', 'issued', 'failed', 'manual'],
    description:
      'waiting: none tried yet; issuing: an order under way; issued: it holds a good certificate; failed: the last order failed (problem), tried again at nextAttemptAt; manual: an uploaded certificate serves it, which automatic certificates neither renew nor replace: they take over once it expires (nextAttemptAt) or is removed. null while automatic certificates are off',
  })
  state!: 'waiting' | 'issuing' | 'issued' | 'failed' | 'manual' | null;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'the certificate serving it now (any source)',
  })
  certificateId!: string | null;

  @ApiProperty({
    type: String,
    enum: ['manual', 'acme'],
    nullable: true,
    description: 'where the certificate serving it comes from: uploaded (certs:add) or ACME',
  })
  certificateSource!: 'manual' | 'acme' | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'when the certificate serving it expires',
  })
  expiresAt!: string | null;

  @ApiProperty({ type: AcmeProblemView, nullable: true, description: 'why the last order failed' })
  problem!: AcmeProblemView | null;

  @ApiProperty({ type: Number, description: 'orders tried since its last certificate' })
  attempts!: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastAttemptAt!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'when the next order is due: its renewal time once issued, the back-off after a failure',
  })
  nextAttemptAt!: string | null;
}

export class CertsAutoView {
  @ApiProperty({ type: Boolean, description: "whether the app's custom domains get certificates over ACME" })
  enabled!: boolean;

  @ApiProperty({ type: DomainCertStateView, isArray: true })
  domains!: DomainCertStateView[];
}
