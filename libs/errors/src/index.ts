/**
 * The one base error of paas. Every error a lib or app throws on purpose is a `PaasError`: a
 * message for people, a stable `code` for programs, and the `cause` it came from (ES2022's, so
 * `node:util.inspect` and the logs show the chain).
 *
 * The code is the kind of failure, not its name, from one short list (the api's error codes):
 * each edge maps a code once instead of knowing every class: the api to an HTTP status
 * ({@link httpStatus}) and the answer's `code`, the CLI to an exit code (apps/cli/src/errors.ts). A class names
 * the failure (`ImageNotFoundError`) and picks its kind (`not_found`); callers that care test
 * the class with `instanceof`, callers that only report test the code.
 */

/**
 * The kinds of failure: the codes of the api's error answers (docs/api.md "Errors"), which
 * are also the kinds containerd's errdefs and gRPC settled on.
 */
export const ERROR_CODES = [
  /** The input is malformed: a bad reference, flag, Dockerfile line, setting, request field. */
  'invalid_params',
  /** Who asks is unknown: no credential or a bad one. */
  'unauthorized',
  /** Who asks is known and may not. */
  'forbidden',
  /** What was named does not exist. */
  'not_found',
  /** The request contradicts the current state: a name taken, an image in use, a port allocated, a lost race. */
  'conflict',
  /** The input is too large. */
  'payload_too_large',
  /** Well-formed, but not possible in the current state (a release without the process type asked for). */
  'unprocessable',
  /** A limit was reached: a rate, memory, pids. */
  'rate_limited',
  /** Stopped on purpose: a signal, a cancel. */
  'aborted',
  /** A bug or an unexpected failure of the machine: the message is for the log, not for clients. */
  'internal',
  /** Stored data is corrupt or does not match its digest. */
  'data_loss',
  /** Asked of something that does not do it (a secret mount, a compression). */
  'unsupported',
  /** A dependency cannot be reached right now (a registry, the api, Redis); trying later may work. */
  'unavailable',
  /** It took longer than allowed. */
  'timeout',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface PaasErrorOptions {
  /** What this error came from (kept as ES2022's `cause`). */
  readonly cause?: unknown;
}

export class PaasError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: PaasErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // the subclass's own name (ImageNotFoundError), not Error's
    this.name = new.target.name;
  }
}

/** Whether a value (a code read off the wire) is one of ERROR_CODES. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function isPaasError(err: unknown, code?: ErrorCode): err is PaasError {
  return err instanceof PaasError && (code === undefined || err.code === code);
}

/** The code of any thrown value: a PaasError's own, `internal` for everything else. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof PaasError ? err.code : 'internal';
}

const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_params: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unprocessable: 422,
  rate_limited: 429,
  aborted: 499,
  internal: 500,
  data_loss: 500,
  unsupported: 501,
  unavailable: 503,
  timeout: 504,
};

/** The HTTP status of a code: the api answers an error of that code with it. */
export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** The code of an HTTP error status another server answered (a registry, the api): what it means to us. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 416) return 'invalid_params';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 405 || status === 501) return 'unsupported';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 422) return 'unprocessable';
  if (status === 429) return 'rate_limited';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 400 && status < 500) return 'invalid_params';
  // 0 (no answer at all) and the 5xx: the other side is down or broken, for now
  return 'unavailable';
}

/**
 * Whether a client of the api may read the message of an error of this code: a 4xx says what
 * was wrong with the request; a 5xx's message (addresses, paths, a stack) stays in the log,
 * but for `unsupported`, which only names what is not supported.
 */
export function isClientError(code: ErrorCode): boolean {
  return httpStatus(code) < 500 || code === 'unsupported';
}
