import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ADDON_NAME,
  ADDON_NAME_RULE,
  ADDON_STATES,
  ADDON_TYPES,
  APP_NAME,
  ATTACHMENT_NAME,
  ATTACHMENT_NAME_RULE,
  type AddonState,
  type AddonType,
  SIZE_RULE,
} from '@paas/platform';
import { Transform } from 'class-transformer';
import { IsIn, IsString, Matches, MaxLength } from 'class-validator';
import { OptionalField } from '../common/validation';

/** `--as database` is DATABASE, as Heroku upper-cases it. */
const upperCase = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.toUpperCase() : value);

/** `POST /api/apps/:app/addons`. */
export class CreateAddonDto {
  @ApiProperty({ type: String, enum: ADDON_TYPES, example: 'postgres' })
  @IsIn(ADDON_TYPES, { message: `type must be one of the add-on types: ${ADDON_TYPES.join(', ')}` })
  type!: AddonType;

  @ApiPropertyOptional({
    type: String,
    pattern: ADDON_NAME.source,
    example: 'postgres-amber-12345',
    description: `unique on the platform (default: TYPE-WORD-NNNNN); ${ADDON_NAME_RULE}`,
  })
  @OptionalField()
  @IsString()
  @Matches(ADDON_NAME, { message: `name must be ${ADDON_NAME_RULE}` })
  name?: string;

  @ApiPropertyOptional({
    type: String,
    pattern: ATTACHMENT_NAME.source,
    example: 'DATABASE',
    description: `the attachment's name: the config var is AS_URL (default DATABASE for postgres, REDIS for redis); ${ATTACHMENT_NAME_RULE}, upper-cased`,
  })
  @OptionalField()
  @Transform(upperCase)
  @IsString()
  @Matches(ATTACHMENT_NAME, { message: `as must be ${ATTACHMENT_NAME_RULE}` })
  as?: string;

  @ApiPropertyOptional({ type: String, example: 'basic', description: `default basic (256 MiB); ${SIZE_RULE}` })
  @OptionalField()
  @IsString()
  @MaxLength(32)
  size?: string;
}

/** `POST /api/addons/:name/attachments`. */
export class AttachAddonDto {
  @ApiProperty({ type: String, example: 'other-app', description: 'the app to attach the add-on to' })
  @IsString()
  @Matches(APP_NAME, { message: 'app must be an app name' })
  app!: string;

  @ApiPropertyOptional({
    type: String,
    pattern: ATTACHMENT_NAME.source,
    example: 'DATABASE',
    description: `the config var is AS_URL (default as for create); ${ATTACHMENT_NAME_RULE}, upper-cased`,
  })
  @OptionalField()
  @Transform(upperCase)
  @IsString()
  @Matches(ATTACHMENT_NAME, { message: `as must be ${ATTACHMENT_NAME_RULE}` })
  as?: string;
}

/** `DELETE /api/addons/:name?confirm=NAME`. */
export class DestroyAddonQueryDto {
  @ApiPropertyOptional({ type: String, description: "the add-on's name again: destroying it cannot be undone" })
  @OptionalField()
  @IsString()
  confirm?: string;
}

export class AddonAttachmentView {
  @ApiProperty({ type: String, example: 'my-app' })
  app!: string;

  @ApiProperty({ type: String, example: 'DATABASE', description: "the attachment's name" })
  name!: string;

  @ApiProperty({ type: String, example: 'DATABASE_URL', description: 'the config var it set on the app' })
  var!: string;
}

export class AddonView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'postgres-amber-12345' })
  name!: string;

  @ApiProperty({ type: String, enum: ADDON_TYPES })
  type!: AddonType;

  @ApiProperty({
    type: String,
    enum: ADDON_STATES,
    description:
      'creating: placed, not accepting connections yet; up; crashed: its node restarts it (see error); failed: it cannot run where its data is (see error); destroying: its volume is being removed',
  })
  state!: AddonState;

  @ApiProperty({ type: String, nullable: true, description: 'why it crashed or failed' })
  error!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'node-1', description: 'the node holding its volume' })
  node!: string | null;

  @ApiProperty({ type: String, example: 'basic' })
  size!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: AddonAttachmentView, isArray: true, description: 'the apps it is attached to, by app' })
  attachments!: AddonAttachmentView[];

  @ApiProperty({ type: Number, description: 'its backups (pg:backups), kept after it is destroyed' })
  backups!: number;
}
