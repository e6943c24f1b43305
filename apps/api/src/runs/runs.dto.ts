import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ADDON_NAME, ADDON_NAME_RULE, CONFIG_KEY, isConfigValue } from '@paas/platform';
import { IsBoolean, IsDefined, IsInt, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { OptionalField } from '../common/validation';

/** Bounds of a command line: what a shell would accept is far more than anyone types. */
const COMMAND_MAX_BYTES = 64 * 1024;
const COMMAND_MAX_ARGS = 1000;

function isText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0');
}

/** A shell command line (`"…"`, run by `sh -c`) or an argv (`["node", "x.js"]`). */
function isCommand(value: unknown): boolean {
  if (isText(value)) return value.trim() !== '' && Buffer.byteLength(value) <= COMMAND_MAX_BYTES;
  if (!Array.isArray(value) || value.length === 0 || value.length > COMMAND_MAX_ARGS) return false;
  return value.every(isText) && value[0] !== '' && Buffer.byteLength(value.join(' ')) <= COMMAND_MAX_BYTES;
}

function isEnvMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([key, v]) => CONFIG_KEY.test(key) && isConfigValue(v));
}

export class RunDto {
  @ApiProperty({
    type: Array,
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['sh', '-c', 'echo hello'],
    description: 'an argv, or a string run with sh -c',
  })
  @IsDefined()
  @ValidateBy({
    name: 'isCommand',
    validator: {
      validate: isCommand,
      defaultMessage: () =>
        `command must be a non-empty string or array of strings (at most ${COMMAND_MAX_ARGS} arguments, ${COMMAND_MAX_BYTES} bytes)`,
    },
  })
  command!: string | string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'extra environment, over the config vars',
  })
  @OptionalField()
  @ValidateBy({
    name: 'isEnvMap',
    validator: {
      validate: isEnvMap,
      defaultMessage: () => 'env must map environment variable names to strings of at most 32 KiB without NUL',
    },
  })
  env?: Record<string, string>;

  @ApiPropertyOptional({
    type: String,
    example: 'postgres-amber-12345',
    description:
      "run in this add-on's image (psql, redis-cli) instead of the release's; the app must be attached to it",
  })
  @OptionalField()
  @IsString()
  @Matches(ADDON_NAME, { message: `addon must be an add-on name: ${ADDON_NAME_RULE}` })
  addon?: string;

  @ApiPropertyOptional({
    type: Boolean,
    description:
      'a terminal for the command, typed into over the same connection: only with Connection: Upgrade and Upgrade: paas-tty/1 (docs/api.md "One-off runs with a terminal")',
  })
  @OptionalField()
  @IsBoolean()
  tty?: boolean;

  @ApiPropertyOptional({ type: Number, example: 24, description: "the terminal's rows (with tty)" })
  @OptionalField()
  @IsInt()
  @Min(1)
  @Max(65535)
  rows?: number;

  @ApiPropertyOptional({ type: Number, example: 80, description: "the terminal's columns (with tty)" })
  @OptionalField()
  @IsInt()
  @Min(1)
  @Max(65535)
  cols?: number;
}
