import { type ErrorCode, PaasError, httpStatus } from '@paas/errors';

/** One failed rule of a request: the field (`updates.0.quantity`), the rule and a sentence. */
export interface ErrorDetail {
  readonly field: string;
  readonly rule: string;
  readonly message: string;
}

/** The body of every error answer (docs/api.md "Errors"). */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly ErrorDetail[];
}

/**
 * An error the api answers on purpose, with its code from docs/api.md (the codes of every
 * PaasError): its status follows from the code. Services throw these, or let a PaasError of a
 * lib through; the global filter turns them (and everything else) into an {@link ErrorBody}.
 */
export class ApiError extends PaasError {
  readonly status: number;
  constructor(
    code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
    /** Extra response headers, such as Retry-After. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
    this.status = httpStatus(code);
  }

  body(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }

  static invalidParams(message: string, details?: readonly ErrorDetail[]): ApiError {
    return new ApiError('invalid_params', message, details);
  }

  /** One field broke one rule. */
  static invalidField(field: string, rule: string, message: string): ApiError {
    return ApiError.invalidParams(message, [{ field, rule, message }]);
  }

  static unauthorized(message = 'missing or unknown API token'): ApiError {
    return new ApiError('unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer realm="paas"' });
  }

  static forbidden(message: string): ApiError {
    return new ApiError('forbidden', message);
  }

  static notFound(message: string): ApiError {
    return new ApiError('not_found', message);
  }

  static conflict(message: string): ApiError {
    return new ApiError('conflict', message);
  }

  static unprocessable(message: string): ApiError {
    return new ApiError('unprocessable', message);
  }

  static rateLimited(retryAfterSeconds: number): ApiError {
    return new ApiError('rate_limited', `too many failed authentications; retry in ${retryAfterSeconds} s`, undefined, {
      'Retry-After': String(retryAfterSeconds),
    });
  }
}
