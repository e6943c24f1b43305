import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, type ErrorBody } from './api-error';
import { PaasError, httpStatus, isClientError } from '@paas/errors';
import { isUniqueViolation } from '@paas/platform';

/** Codes for statuses Nest or Express answer by themselves (unknown route, body parser). */
const CODES: Readonly<Record<number, string>> = {
  400: 'invalid_params',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
};

/** An error of Express's body parser (http-errors): safe to show when `expose` is set. */
interface HttpLikeError {
  readonly status: number;
  readonly expose: boolean;
  readonly message: string;
  readonly type?: string;
}

function isHttpLikeError(err: unknown): err is HttpLikeError {
  const e = err as Partial<HttpLikeError> | null;
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 600 && typeof e.expose === 'boolean';
}

/**
 * Every error leaves the api as `{"code","message","details"?}` (docs/api.md "Errors"): our
 * own ApiErrors as they are, any other PaasError by its code (the message only for a 4xx),
 * Nest's and Express's by status, unique violations as 409, and anything else as a 500 whose
 * details stay in the log, never in the answer.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('api');

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    const { status, body, headers } = this.describe(err, req);
    if (status >= 500)
      this.logger.error(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (res.headersSent) {
      // A stream (logs, runs) failed half-way: the status is gone, so end it where it is.
      res.end();
      return;
    }
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  /** The answer for `err`: also for what is no Nest route (an HTTP Upgrade refused before it switches). */
  describe(err: unknown, req: IncomingMessage): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (err instanceof ApiError) return { status: err.status, body: err.body(), headers: { ...err.headers } };
    // a lib's error let through: its code says the status; a 5xx's message stays in the log
    if (err instanceof PaasError) {
      const message = isClientError(err.code)
        ? err.message
        : err.code === 'unavailable'
          ? 'a service the api depends on is unavailable; try again'
          : 'internal error';
      return { status: httpStatus(err.code), body: { code: err.code, message }, headers: {} };
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const message =
        status === 404
          ? `no route for ${req.method} ${req.url?.split('?')[0]}`
          : status === 400
            ? `the request could not be read: ${err.message}`
            : err.message;
      return this.answer(status, message);
    }
    if (isHttpLikeError(err)) {
      const message = err.type === 'entity.too.large' ? 'the body is too large' : err.message;
      return this.answer(err.status, err.expose ? message : 'internal error');
    }
    if (isUniqueViolation(err)) return this.answer(409, 'a resource with that name already exists');
    return this.answer(500, 'internal error');
  }

  private answer(
    status: number,
    message: string,
  ): { status: number; body: ErrorBody; headers: Record<string, string> } {
    const code = status >= 500 ? 'internal' : (CODES[status] ?? 'invalid_params');
    return { status, body: { code, message: status >= 500 ? 'internal error' : message }, headers: {} };
  }
}
