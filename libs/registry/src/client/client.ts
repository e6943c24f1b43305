/**
 * An HTTP client for one registry that speaks Docker's auth: it sends what it has, and on a
 * 401 reads the challenge — Bearer: fetches a token for the scopes the request needs from
 * the realm (with the saved login as basic credentials, or anonymously) and retries; Basic:
 * retries with the login. Tokens are cached per scope set until they expire. This is the
 * same exchange Docker Hub uses (realm auth.docker.io), so one code path serves both.
 *
 * Loopback registries are spoken to over plain HTTP (like Docker's default insecure
 * 127.0.0.0/8); others over HTTPS unless listed as insecure, trusting Node's roots and the
 * platform CA (transport.ts). Every request, the realm's included, goes through node:http(s)
 * with that trust: Node 20's fetch takes no CA. A TLS failure says why in words, naming the
 * registry.
 */
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { Readable as NodeReadable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isLoopbackHost, tlsFailureReason } from '@paas/config';
import { DEFAULT_DOMAIN } from '@paas/oci';
import { type ErrorBody } from '../errors';
import { parseChallenge } from './challenge';
import type { Credentials } from './credentials';
import { type RegistryTransport, tlsAgent } from './transport';
import { type ErrorCode, PaasError, codeForStatus } from '@paas/errors';

export interface ClientOptions extends Partial<RegistryTransport> {
  readonly credentials?: Credentials;
  readonly userAgent?: string;
  /** A base URL to speak to instead of the host's own (a mirror: `http://127.0.0.1:5001`). */
  readonly endpoint?: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A body, or a function making a fresh one (so the request can be retried after auth). */
  readonly body?: Buffer | string | (() => Readable);
  /** Token scopes the request needs, e.g. `repository:a/b:pull`. */
  readonly scopes?: readonly string[];
  /** Statuses that are answers rather than errors (404 for HEAD). */
  readonly accept?: readonly number[];
}

/** An error answer of a registry, in Docker's words: `denied: requested access to the resource is denied`. */
/** A registry's answer that is an error: its status and the distribution error code it named. */
export class RegistryClientError extends PaasError {
  constructor(
    readonly status: number,
    /** The first error code of the answer's body (`DENIED`, `MANIFEST_UNKNOWN`), or our own. */
    readonly registryCode: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(status === 0 ? (LOCAL_KINDS[registryCode] ?? 'unavailable') : codeForStatus(status), message, options);
  }
}

/** What an error found by the client itself (status 0: no answer, or an answer it refused) is. */
const LOCAL_KINDS: Readonly<Record<string, ErrorCode>> = {
  NETWORK: 'unavailable',
  DIGEST_INVALID: 'data_loss',
  MANIFEST_INVALID: 'unsupported',
  BLOB_UPLOAD_INVALID: 'unavailable',
};

/** Whether a registry (`host[:port]`, as references name it) is on loopback. */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private basic = false;

  constructor(
    /** The registry as references name it: `127.0.0.1:5000`, `docker.io`. */
    readonly host: string,
    private readonly options: ClientOptions = {},
  ) {
    const endpoint = host === DEFAULT_DOMAIN ? 'registry-1.docker.io' : host;
    const plain = isLoopback(host) || (options.insecure ?? []).includes(host);
    this.baseUrl = options.endpoint ? new URL(options.endpoint).origin : `${plain ? 'http' : 'https'}://${endpoint}`;
  }

  /** Sends a request to a path (`/v2/...`) or an absolute URL, authenticating as needed. */
  async request(pathOrUrl: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.baseUrl).toString();
    const scopes = [...(options.scopes ?? [])].sort();
    let res = await this.send(url, options, scopes);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await res.body?.cancel();
      if (challenge?.scheme === 'bearer') await this.fetchToken(challenge.params, scopes);
      else if (challenge?.scheme === 'basic' && this.options.credentials) this.basic = true;
      else throw await errorOf(res, url);
      res = await this.send(url, options, scopes);
    }
    if (!res.ok && !(options.accept ?? []).includes(res.status)) throw await errorOf(res, url);
    return res;
  }

  /**
   * Big bodies go through node:http directly: fetch's web streams cost several times the CPU
   * per byte. The caller first makes a small `request` with the same scopes (a HEAD or the
   * upload's POST), which settles authentication, so these never need a retry.
   */
  async download(pathOrUrl: string, scopes: readonly string[], redirects = 3): Promise<IncomingMessage> {
    const url = new URL(pathOrUrl, this.baseUrl);
    const res = await this.raw(url, 'GET', this.authHeaders([...scopes].sort(), url), undefined);
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location && redirects > 0) {
      res.resume();
      return this.download(new URL(location, url).toString(), scopes, redirects - 1);
    }
    if (res.statusCode !== 200) throw await rawError(res, url);
    return res;
  }

  async upload(
    pathOrUrl: string,
    scopes: readonly string[],
    headers: Record<string, string>,
    body: Readable,
  ): Promise<IncomingMessage> {
    const url = new URL(pathOrUrl, this.baseUrl);
    const res = await this.raw(url, 'PUT', { ...this.authHeaders([...scopes].sort(), url), ...headers }, body);
    if (res.statusCode !== 201 && res.statusCode !== 202 && res.statusCode !== 204) throw await rawError(res, url);
    res.resume();
    return res;
  }

  /**
   * One request. Connections are kept alive (Node's agents), and a server may close an idle
   * one just as it is reused: a request without a stream body that fails so on a reused
   * socket is sent once more on a fresh one, as Node's documentation advises
   * (`request.reusedSocket`); fetch did the same for us before.
   */
  private async raw(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Readable | Buffer | string | undefined,
  ): Promise<IncomingMessage> {
    try {
      return await this.once(url, method, headers, body);
    } catch (err) {
      const stale =
        err instanceof RegistryClientError && (err.cause as { staleSocket?: boolean } | undefined)?.staleSocket;
      if (!stale || (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body))) throw err;
      return this.once(url, method, headers, body);
    }
  }

  private once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Readable | Buffer | string | undefined,
  ): Promise<IncomingMessage> {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const agent = https ? tlsAgent(this.options.trust) : undefined;
    const fixed = typeof body === 'string' ? Buffer.from(body) : body;
    const sized = Buffer.isBuffer(fixed) ? { 'Content-Length': String(fixed.length) } : {};
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers: { ...headers, ...sized }, ...(agent ? { agent } : {}) }, resolve);
      const fail = (err: NodeJS.ErrnoException): void => {
        if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { staleSocket: true });
        const tls = tlsFailureReason(err.code, this.options.trust ?? null, 'PAAS_REGISTRY_TLS_SANS on the registry');
        const reason = tls
          ? `registry ${url.host}: ${tls}${https && /http rather/.test(tls) ? INSECURE_HINT : ''}`
          : err.message;
        reject(
          new RegistryClientError(0, 'NETWORK', `${method} ${url.origin}${url.pathname}: ${reason}`, { cause: err }),
        );
      };
      req.on('error', fail);
      if (fixed === undefined) req.end();
      else if (Buffer.isBuffer(fixed)) req.end(fixed);
      else pipeline(fixed, req).catch(fail);
    });
  }

  private authHeaders(scopes: string[], url: URL): Record<string, string> {
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent ?? 'paas' };
    // credentials only to the registry itself, never to a blob store it redirects to
    if (url.origin !== new URL(this.baseUrl).origin) return headers;
    const token = this.tokens.get(scopes.join(' '));
    if (token && token.expires > Date.now()) headers['Authorization'] = `Bearer ${token.token}`;
    else if (this.basic && this.options.credentials) headers['Authorization'] = basicHeader(this.options.credentials);
    return headers;
  }

  private async send(url: string, options: RequestOptions, scopes: string[]): Promise<Response> {
    const method = options.method ?? 'GET';
    let target = new URL(url);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...this.authHeaders(scopes, target), ...options.headers };
      const body = typeof options.body === 'function' ? options.body() : options.body;
      const res = await this.raw(target, method, headers, body);
      const location = res.headers.location;
      // as fetch's redirect: 'follow', for the requests without a body (blob GETs to storage)
      if (REDIRECTS.has(res.statusCode ?? 0) && location && (method === 'GET' || method === 'HEAD') && hop < 5) {
        res.resume();
        target = new URL(location, target);
        continue;
      }
      return webResponse(res, method);
    }
  }

  private async fetchToken(params: Record<string, string>, scopes: string[]): Promise<void> {
    const realm = params['realm'];
    if (!realm) throw new RegistryClientError(401, 'UNAUTHORIZED', `${this.host}: bearer challenge without realm`);
    const url = new URL(realm);
    if (params['service']) url.searchParams.set('service', params['service']);
    const wanted = scopes.length ? scopes : params['scope'] ? params['scope'].split(' ') : [];
    for (const scope of wanted) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent ?? 'paas' };
    if (this.options.credentials) headers['Authorization'] = basicHeader(this.options.credentials);
    const res = webResponse(await this.raw(url, 'GET', headers, undefined), 'GET');
    if (!res.ok) throw await errorOf(res, `${url.origin}${url.pathname}`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryClientError(401, 'UNAUTHORIZED', `${url.origin}${url.pathname}: no token in answer`);
    // renew a little early; Docker assumes 60 s when the server does not say
    const ttl = Math.max(10, (body.expires_in ?? 60) - 5) * 1000;
    this.tokens.set(scopes.join(' '), { token, expires: Date.now() + ttl });
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const INSECURE_HINT = ' (a registry serving plain HTTP must be listed in PAAS_INSECURE_REGISTRIES)';

/** A node:http answer as fetch's Response (a null body where fetch has none). */
function webResponse(res: IncomingMessage, method: string): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const each of Array.isArray(value) ? value : [value]) headers.append(name, each);
  }
  const empty = method === 'HEAD' || status === 204 || status === 304;
  if (empty) res.resume();
  const body = empty ? null : (NodeReadable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: res.statusMessage ?? '', headers });
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

async function rawError(res: IncomingMessage, url: URL): Promise<RegistryClientError> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString('utf8');
  return errorOf(
    new Response(body, { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '' }),
    url.toString(),
  );
}

async function errorOf(res: Response, url: string): Promise<RegistryClientError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // the status is enough
  }
  try {
    const first = (JSON.parse(text) as ErrorBody).errors?.[0];
    if (first) {
      return new RegistryClientError(
        res.status,
        first.code,
        `${first.code.toLowerCase().replace(/_/g, ' ')}: ${first.message}`,
      );
    }
  } catch {
    // not the spec's error JSON
  }
  const path = url.replace(/\?.*$/, '');
  return new RegistryClientError(res.status, 'UNKNOWN', `${path}: ${res.status} ${res.statusText}`);
}
