/**
 * The CLI's client of the platform's REST API (docs/api.md): JSON requests with a Bearer
 * token, errors as PlatformApiError (`{"code","message"}`), streams (SSE and plain text) as responses
 * to read. node:http rather than fetch: it loads faster and names the failing address plainly.
 */
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import https from 'node:https';
import { type TrustedCa, VERSION, tlsFailureReason } from '@paas/config';
import { type SseEvent, sseEvents } from './sse';
import type { ApiErrorBody } from '@paas/api-types';
import { type ErrorCode, PaasError, codeForStatus, isErrorCode } from '@paas/errors';

/** The api answered with an error status. */
/** The platform's api answered with an error: its status, its `code` (docs/api.md), details. */
export class PlatformApiError extends PaasError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly details?: unknown[],
  ) {
    super(code, message);
  }
}

/** No answer: refused, unknown host, reset, timed out. */
export class ApiUnreachableError extends PaasError {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super('unavailable', `cannot reach the paas API at ${url}: ${reason}`);
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the api running? `paas up` starts it)',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
};

export interface RequestOptions {
  readonly body?: unknown;
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /** Milliseconds without any byte before giving up (not for streams that follow). */
  readonly idleTimeoutMs?: number;
}

export class ApiClient {
  readonly userAgent = `paas-cli/${VERSION}`;

  constructor(
    /** The api's base URL without a trailing slash: `http://127.0.0.1:7000`. */
    readonly baseUrl: string,
    readonly token: string | undefined,
    /** The CA an https api's certificate must chain to (PAAS_CA_FILE...); null: Node's roots. */
    readonly ca: TrustedCa | null = null,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PATCH', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PUT', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.json<T>('DELETE', path);
  }

  /**
   * A JSON request; the parsed answer, or PlatformApiError. `idleTimeoutMs` (default a minute):
   * longer for a request the api answers only once its work is done (a database restore).
   */
  async json<T>(method: string, path: string, body?: unknown, idleTimeoutMs = 60_000): Promise<T> {
    const res = await this.open(method, path, {
      ...(body !== undefined ? { body } : {}),
      accept: 'application/json',
      idleTimeoutMs,
    });
    const text = await readAll(res);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new PlatformApiError(
        res.statusCode ?? 0,
        'unavailable',
        `the api answered ${method} ${path} with something other than JSON`,
      );
    }
  }

  /** The events of a `text/event-stream` answer; aborting `signal` ends them quietly. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    let res: IncomingMessage | undefined;
    try {
      res = await this.open('GET', path, { accept: 'text/event-stream', ...(signal ? { signal } : {}) });
      yield* sseEvents(res);
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    } finally {
      res?.destroy();
    }
  }

  /**
   * Sends the request and resolves with the response once its status is a success (2xx);
   * an error status is read and thrown as PlatformApiError. The caller reads or destroys the body.
   */
  open(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    return this.send(method, path, options, {}, (req, resolve, reject) => {
      req.on('response', (res) => {
        if (isSuccess(res)) resolve(res);
        else this.refused(res, method, path).then(reject, reject);
      });
    });
  }

  /**
   * An HTTP Upgrade to `protocol` (a one-off run's terminal, docs/api.md): the connection once
   * the api switched (101), and what it sent after the 101; a refusal is thrown as `open` does.
   */
  upgrade(
    method: string,
    path: string,
    protocol: string,
    options: RequestOptions = {},
  ): Promise<{ socket: Duplex; head: Buffer }> {
    const headers = { Connection: 'Upgrade', Upgrade: protocol };
    return this.send(method, path, options, headers, (req, resolve, reject) => {
      req.on('upgrade', (_res, socket, head) => resolve({ socket, head }));
      req.on('response', (res) => {
        res.resume();
        if (isSuccess(res))
          reject(
            new PlatformApiError(
              res.statusCode ?? 0,
              'unavailable',
              `the api did not switch ${method} ${path} to ${protocol}`,
            ),
          );
        else this.refused(res, method, path).then(reject, reject);
      });
    });
  }

  private send<T>(
    method: string,
    path: string,
    options: RequestOptions,
    extraHeaders: Record<string, string>,
    settle: (req: ClientRequest, resolve: (value: T) => void, reject: (err: Error) => void) => void,
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = {
      'User-Agent': this.userAgent,
      Accept: options.accept ?? 'application/json',
      ...extraHeaders,
    };
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const signal = options.signal ? { signal: options.signal } : {};
    return new Promise((resolve, reject) => {
      const req =
        url.protocol === 'https:'
          ? https.request(url, { method, headers, ...signal, ...(this.ca ? { ca: this.ca.pem } : {}) })
          : http.request(url, { method, headers, ...signal });
      if (options.idleTimeoutMs) {
        req.setTimeout(options.idleTimeoutMs, () =>
          req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
        );
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.name === 'AbortError') reject(err);
        else
          reject(
            new ApiUnreachableError(
              this.baseUrl,
              REASONS[err.code ?? ''] ?? tlsFailureReason(err.code, this.ca) ?? err.message,
            ),
          );
      });
      settle(req, resolve, reject);
      req.end(payload);
    });
  }

  /** An error status read into the PlatformApiError it stands for. */
  private async refused(res: IncomingMessage, method: string, path: string): Promise<PlatformApiError> {
    const text = await readAll(res);
    return apiError(res.statusCode ?? 0, res.headers['retry-after'], method, path, text);
  }
}

function isSuccess(res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return status >= 200 && status < 300;
}

function apiError(
  status: number,
  retryAfter: string | string[] | undefined,
  method: string,
  path: string,
  text: string,
): PlatformApiError {
  let body: Partial<ApiErrorBody> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object') body = parsed as Partial<ApiErrorBody>;
  } catch {
    // not JSON: a proxy's page or plain text
  }
  // the api's codes are PaasError's; a proxy's page or an unknown code is read from the status
  const said = isErrorCode(body.code) ? body.code : undefined;
  const code = said ?? codeForStatus(status);
  let message =
    typeof body.message === 'string' && body.message ? body.message : defaultMessage(status, said, method, path);
  if (status === 429 && typeof retryAfter === 'string') message += ` (retry after ${retryAfter} s)`;
  const details = Array.isArray(body.details) ? body.details : undefined;
  return new PlatformApiError(status, code, message, details);
}

/** A message for an answer without one; `said` is the code the body named, if it named one. */
function defaultMessage(status: number, said: ErrorCode | undefined, method: string, path: string): string {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return said === 'not_found' ? 'not found' : `${method} ${path}: not found`;
    case 429:
      return 'too many failed authentications';
    default:
      return `${method} ${path}: ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd();
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** `/api/apps/my%20app/…`: path segments encoded. */
export function apiPath(...segments: (string | number)[]): string {
  return `/api/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}
