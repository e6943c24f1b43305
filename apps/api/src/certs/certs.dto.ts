import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { CERT_PEM_MAX_BYTES, KEY_PEM_MAX_BYTES } from '@paas/platform';

export class AddCertDto {
  @ApiProperty({ type: String, description: 'PEM certificate chain, leaf first, each followed by its issuer' })
  @IsString()
  @MaxLength(CERT_PEM_MAX_BYTES, { message: `cert must be at most ${CERT_PEM_MAX_BYTES / 1024} KiB of PEM` })
  cert!: string;

  @ApiProperty({ type: String, description: "the leaf's private key, PEM, unencrypted; never returned" })
  @IsString()
  @MaxLength(KEY_PEM_MAX_BYTES, { message: `key must be at most ${KEY_PEM_MAX_BYTES / 1024} KiB of PEM` })
  key!: string;
}

export class CertView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({
    type: String,
    isArray: true,
    example: ['www.example.com', '*.example.com'],
    description: "the certificate's DNS names",
  })
  names!: string[];

  @ApiProperty({
    type: String,
    isArray: true,
    example: ['www.example.com'],
    description: "the app's domains its names cover",
  })
  domains!: string[];

  @ApiProperty({
    type: String,
    isArray: true,
    example: ['www.example.com'],
    description: 'the domains the router serves it for now (a newer certificate for a domain takes its place)',
  })
  serving!: string[];

  @ApiProperty({ type: String, example: "CN=R3, O=Let's Encrypt, C=US" })
  issuer!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  notBefore!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  notAfter!: string;

  @ApiProperty({ type: String, enum: ['manual', 'acme'] })
  source!: 'manual' | 'acme';

  @ApiProperty({ type: String, example: 'AB:CD:...', description: 'SHA-256 of the leaf certificate' })
  fingerprint!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}

/** A certificate whose use a new one took over, and for which domains. */
export class ReplacedCert {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, isArray: true })
  domains!: string[];
}

export class AddedCertView extends CertView {
  @ApiProperty({ type: ReplacedCert, isArray: true, description: 'older certificates this one replaces, per domain' })
  replaces!: ReplacedCert[];

  @ApiProperty({
    type: String,
    isArray: true,
    description:
      'domains of an app with automatic certificates that it serves now: they are left to it (state manual) until it expires or is removed',
  })
  overridesAuto!: string[];
}
