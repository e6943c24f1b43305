import { type ArgumentMetadata, Body, type PipeTransform, Query, ValidationPipe } from '@nestjs/common';
import { ValidateIf, type ValidationError } from 'class-validator';
import { ApiError, type ErrorDetail } from './api-error';

type Dto = new () => object;

/** class-validator's error tree as a flat list: `updates.0.quantity` / `max` / sentence. */
function validationDetails(errors: readonly ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      rule: rule === 'whitelistValidation' ? 'unknownField' : rule,
      message: rule === 'whitelistValidation' ? `${field} is not a known field` : message,
    }));
    return [...own, ...validationDetails(error.children ?? [], field)];
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a body or query against a DTO class. Our bundlers emit no decorator metadata, so
 * Nest cannot see the parameter's type: the class is named here (`expectedType`). Unknown
 * fields are refused, values are not coerced (a string is not a number), and a body that is
 * not a JSON object is refused before class-transformer sees it.
 */
class DtoPipe implements PipeTransform {
  private readonly pipe: ValidationPipe;

  constructor(
    type: Dto,
    private readonly where: 'body' | 'query',
  ) {
    this.pipe = new ValidationPipe({
      expectedType: type,
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => {
        const details = validationDetails(errors);
        return ApiError.invalidParams(details.map((d) => d.message).join('; ') || 'invalid parameters', details);
      },
    });
  }

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (!isPlainObject(value)) {
      throw ApiError.invalidParams(
        this.where === 'body' ? 'the body must be a JSON object (Content-Type: application/json)' : 'invalid query',
      );
    }
    return this.pipe.transform(value, metadata);
  }
}

/** A body checked as @ValidBody does, for what is no Nest route (an HTTP Upgrade's body). */
export async function validBody<T extends object>(type: new () => T, value: unknown): Promise<T> {
  return (await new DtoPipe(type, 'body').transform(value, { type: 'body' })) as T;
}

/** `@ValidBody(CreateAppDto) body: CreateAppDto` */
export function ValidBody(type: Dto): ParameterDecorator {
  return Body(new DtoPipe(type, 'body'));
}

/** `@ValidQuery(LogsQueryDto) query: LogsQueryDto` */
export function ValidQuery(type: Dto): ParameterDecorator {
  return Query(new DtoPipe(type, 'query'));
}

/** A JSON object body without a DTO (config vars: any keys), checked by the caller. */
export const ObjectBody = (): ParameterDecorator =>
  Body({
    transform(value: unknown): Record<string, unknown> {
      if (!isPlainObject(value))
        throw ApiError.invalidParams('the body must be a JSON object (Content-Type: application/json)');
      return value;
    },
  });

/**
 * An optional field that, when present, must satisfy its rules: unlike @IsOptional, `null`
 * is not let through (it would reach a NOT NULL column).
 */
export const OptionalField = (): PropertyDecorator =>
  ValidateIf((_object: object, value: unknown) => value !== undefined);
