/**
 * Certificates from an ACME server (RFC 8555) over HTTP-01, through acme-client (pinned, not a
 * protocol of ours). One call, `obtainCertificate`, does one issuance:
 *
 *   account made or found for the key (terms accepted) -> order for the domains -> for each
 *   pending authorization, its HTTP-01 key authorization published through `challenges` and
 *   the challenge answered -> the authorizations polled until settled -> finalize with a CSR
 *   of a fresh ECDSA P-256 key -> the chain (leaf first) downloaded.
 *
 * Every key authorization published is removed before the call returns or throws. A failure is
 * an AcmeProblemError with the server's problem document (RFC 8555 6.7, RFC 7807): for failed
 * authorizations one subproblem per identifier with the challenge's error, which is what a
 * domain's state shows. A failure that never reached a problem document (no connection, bad
 * TLS, a timeout) gets a `paas:acme:*` type of ours, so the state is always one shape.
 *
 * Trust: the directory's HTTPS is checked against `caPem` when given (a test CA, pebble's),
 * against Node's roots otherwise; never a global NODE_TLS_REJECT_UNAUTHORIZED. acme-client's
 * HTTP is one axios instance for the whole process, so the agent is handed to each request of
 * this call's client, not set on that instance. Each request is tried once: retrying a failed
 * issuance is the renewal policy's job (acme-policy.ts), not a sleep inside this call.
 *
 * acme-client (with axios and node-forge) is loaded on first use, so the components that only
 * import the platform library do not load it.
 *
 * The account key: an ECDSA P-256 key made once and kept sealed (tls/sealed.ts) in a store the
 * caller gives (`AccountKeyStore`, e.g. a database row), so every api replica, on any node,
 * acts as one ACME account and the key is at rest like the certificates' keys are.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authorization, Client, Order } from 'acme-client';
import type { Redis } from 'ioredis';
import { type ErrorCode, PaasError } from '@paas/errors';
import { HOSTNAME } from '../names';
import { seal, unseal } from '../tls/sealed';
import { putAcmeChallenge, removeAcmeChallenge } from './challenges';

/** Where HTTP-01 key authorizations are published for the routers to answer (challenges.ts). */
export interface AcmeChallenges {
  put(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

/** The challenges role over Redis, as every router reads them. */
export function redisAcmeChallenges(redis: Redis): AcmeChallenges {
  return {
    put: (token, keyAuthorization) => putAcmeChallenge(redis, token, keyAuthorization),
    remove: (token) => removeAcmeChallenge(redis, token),
  };
}

/** One identifier's failure inside a problem (RFC 8555 6.7.1). */
export interface AcmeSubproblem {
  readonly identifier: string;
  readonly type: string;
  readonly detail: string;
  readonly status?: number;
}

/** An ACME problem document, as the server sent it (or of ours for what never reached one). */
export interface AcmeProblem {
  readonly type: string;
  readonly detail: string;
  readonly status?: number;
  readonly subproblems: readonly AcmeSubproblem[];
}

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const REQUEST_TIMEOUT_MS = 30_000;

/** Problems of ours: the request never got a problem document from the server. */
export const ACME_UNREACHABLE = 'paas:acme:unreachable';
export const ACME_TIMEOUT = 'paas:acme:timeout';

/** An issuance that failed; `problem` says why, per identifier when the server said so. */
export class AcmeProblemError extends PaasError {
  constructor(
    readonly problem: AcmeProblem,
    options: { cause?: unknown } = {},
  ) {
    super(codeOfProblem(problem.type), `ACME: ${problem.detail} (${problem.type})`, options);
  }
}

function codeOfProblem(type: string): ErrorCode {
  if (type === ACME_UNREACHABLE || type === `${ACME_ERROR}serverInternal`) return 'unavailable';
  if (type === ACME_TIMEOUT) return 'timeout';
  if (type === `${ACME_ERROR}rateLimited`) return 'rate_limited';
  if (type === `${ACME_ERROR}malformed` || type === `${ACME_ERROR}rejectedIdentifier`) return 'invalid_params';
  return 'unprocessable';
}

export interface ObtainRequest {
  /** The ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory */
  readonly directoryUrl: string;
  /** The account's private key, PEM (see `ensureAccountKey`). */
  readonly accountKeyPem: string;
  /** DNS names the certificate is for; the first is its subject. */
  readonly domains: readonly string[];
  readonly challenges: AcmeChallenges;
  /** Trust only this CA for the directory's HTTPS (PEM); Node's roots when not given. */
  readonly caPem?: string;
  /** `mailto:` contacts for the account. */
  readonly contact?: readonly string[];
  readonly signal?: AbortSignal;
  /** How long authorizations and the order may stay pending (default 2 minutes). */
  readonly settleTimeoutMs?: number;
}

export interface ObtainedCertificate {
  /** The leaf then its issuers, PEM. */
  readonly certPem: string;
  /** The leaf's fresh ECDSA P-256 key, PKCS#8 PEM. */
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What acme-client's client does over HTTP; its one seam for per-client transport options. */
interface AcmeHttp {
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<AcmeResponse>;
}
interface AcmeResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: unknown;
}

export async function obtainCertificate(request: ObtainRequest): Promise<ObtainedCertificate> {
  const domains = checkDomains(request.domains);
  const signal = request.signal;
  signal?.throwIfAborted();
  const acme = await import('acme-client');
  const client = new acme.Client({
    directoryUrl: request.directoryUrl,
    accountKey: request.accountKeyPem,
    // finalization's wait (getCertificate) polls from 250 ms up to 10 s
    backoffMin: 250,
    backoffMax: 10_000,
  });
  const transport = tapTransport(client, request.caPem, signal);
  const published: string[] = [];
  const work = async (): Promise<ObtainedCertificate> => {
    // found first (RFC 8555 7.3.1): acme-client would send an existing account's terms again as
    // an update, which servers refuse as an empty one
    await client.createAccount({ onlyReturnExisting: true }).catch(async (err: unknown) => {
      if (transport.lastProblem()?.type !== `${ACME_ERROR}accountDoesNotExist`) throw err;
      await client.createAccount({
        termsOfServiceAgreed: true,
        ...(request.contact ? { contact: [...request.contact] } : {}),
      });
    });
    const order = await client.createOrder({ identifiers: domains.map((value) => ({ type: 'dns', value })) });
    const pending = (await client.getAuthorizations(order)).filter((authz) => authz.status === 'pending');
    for (const authz of pending) {
      const challenge = authz.challenges.find((c) => c.type === 'http-01');
      if (!challenge) {
        throw new AcmeProblemError({
          type: `${ACME_ERROR}unsupportedIdentifier`,
          detail: `the server offers no http-01 challenge for ${authz.identifier.value}`,
          subproblems: [],
        });
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      signal?.throwIfAborted();
      published.push(challenge.token);
      await request.challenges.put(challenge.token, keyAuthorization);
      await client.completeChallenge(challenge);
    }
    const deadline = Date.now() + (request.settleTimeoutMs ?? 120_000);
    await settle(
      async () => {
        const authzs = await client.getAuthorizations(order);
        if (authzs.some((a) => a.status === 'pending')) return undefined;
        const failed = authzs.filter((a) => a.status !== 'valid');
        if (failed.length > 0) throw new AcmeProblemError(authorizationProblem(failed, domains.length));
        return true;
      },
      deadline,
      signal,
    );
    const keyPem = newEcdsaKeyPem();
    const [, csr] = await acme.crypto.createCsr({ commonName: domains[0], altNames: [...domains] }, keyPem);
    const finalized = await client.finalizeOrder(order, csr);
    const ready = await settle(
      async () => {
        const current = finalized.status === 'valid' ? finalized : await client.getOrder(finalized);
        if (current.status === 'valid') return current;
        if (current.status === 'invalid') throw new AcmeProblemError(orderProblem(current));
        return undefined;
      },
      deadline,
      signal,
    );
    const certPem = await client.getCertificate(ready);
    const leaf = new X509Certificate(certPem);
    return { certPem, keyPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
  };
  try {
    return await untilAborted(work(), signal);
  } catch (err) {
    throw asProblem(err, transport, request.directoryUrl, signal);
  } finally {
    // a removal that fails leaves a key authorization that expires by itself (ACME_CHALLENGE_TTL_S)
    await Promise.allSettled(published.map((token) => request.challenges.remove(token)));
    transport.close();
  }
}

/** The domains, checked: host names (no wildcard: HTTP-01 cannot prove one), at least one, no repeats. */
function checkDomains(domains: readonly string[]): string[] {
  if (domains.length === 0) throw new PaasError('invalid_params', 'ACME: no domain to obtain a certificate for');
  const seen = new Set<string>();
  for (const domain of domains) {
    if (!HOSTNAME.test(domain))
      throw new PaasError(
        'invalid_params',
        `ACME: domain ${JSON.stringify(domain)} is not a lower-case host name (HTTP-01 proves no wildcard)`,
      );
    if (seen.has(domain)) throw new PaasError('invalid_params', `ACME: domain ${domain} is listed twice`);
    seen.add(domain);
  }
  return [...seen];
}

/**
 * Hands this client's agent, the signal and a timeout to each of its HTTP requests, and keeps
 * what the last one met: the problem document the server answered (acme-client throws a plain
 * Error with only its detail), or the connection's own error.
 *
 * acme-client's axios would retry a request without an answer, or with a 429 or 5xx, up to five
 * times over 75 s (and sleep out any Retry-After, hours when rate-limited), in the background
 * after an abort too, and then throws a TypeError of its own. A request here is tried once
 * (`retryAttempt` past its limit): the renewal policy's back-off is the one retry
 * (acme-policy.ts); a bad nonce is still retried at once, by acme-client's signing.
 */
function tapTransport(
  client: Client,
  caPem: string | undefined,
  signal: AbortSignal | undefined,
): { lastProblem(): AcmeProblem | undefined; failure(): Error | undefined; close(): void } {
  const http = (client as unknown as { http?: AcmeHttp }).http;
  if (!http || typeof http.request !== 'function') throw new Error('acme-client: no HttpClient at client.http');
  let last: AcmeProblem | undefined;
  let failure: Error | undefined;
  const agent = new Agent({ keepAlive: true, ...(caPem ? { ca: caPem } : {}) });
  const connect = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = connect(options, callback);
    socket?.on('error', (err) => (failure = err));
    return socket;
  };
  const request = http.request.bind(http);
  http.request = async (url, method, opts = {}) => {
    signal?.throwIfAborted();
    [last, failure] = [undefined, undefined];
    try {
      const response = await request(url, method, {
        ...opts,
        httpsAgent: agent,
        timeout: REQUEST_TIMEOUT_MS,
        signal,
        retryAttempt: Number.MAX_SAFE_INTEGER,
      });
      last = problemOf(response);
      return response;
    } catch (err) {
      failure ??= err instanceof TypeError ? new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`) : (err as Error);
      throw new Error(`${method.toUpperCase()} ${url}: ${failure.message}`, { cause: err });
    }
  };
  return { lastProblem: () => last, failure: () => failure, close: () => agent.destroy() };
}

function problemOf(response: AcmeResponse): AcmeProblem | undefined {
  const type = response.headers['content-type'] ?? '';
  if (response.status < 400 || !type.startsWith('application/problem+json')) return undefined;
  return readProblem(response.data);
}

function readProblem(data: unknown): AcmeProblem {
  const doc = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const subproblems = Array.isArray(doc['subproblems'])
    ? (doc['subproblems'] as unknown[]).map((sub) => {
        const value = (sub as { identifier?: { value?: unknown } }).identifier?.value;
        return readSubproblem(sub, typeof value === 'string' ? value : '');
      })
    : [];
  return { ...readSubproblem(data, ''), subproblems };
}

function readSubproblem(data: unknown, identifier: string): AcmeSubproblem {
  const doc = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  return {
    identifier,
    type: typeof doc['type'] === 'string' ? doc['type'] : 'about:blank',
    detail: typeof doc['detail'] === 'string' ? doc['detail'] : JSON.stringify(data),
    ...(typeof doc['status'] === 'number' ? { status: doc['status'] } : {}),
  };
}

/** The problem of failed authorizations: each one's challenge error, per identifier. */
function authorizationProblem(failed: Authorization[], total: number): AcmeProblem {
  const subproblems = failed.map((authz) => {
    const error = authz.challenges.find((c) => c.type === 'http-01' && c.error)?.error;
    const fallback = { type: `${ACME_ERROR}unauthorized`, detail: `authorization ${authz.status}` };
    return readSubproblem(error ?? fallback, authz.identifier.value);
  });
  const [first] = subproblems;
  if (!first) throw new Error('authorizationProblem: no failed authorization');
  const detail = subproblems.map((s) => `${s.identifier}: ${s.detail}`).join('; ');
  return {
    type: first.type,
    detail: `${failed.length} of ${total} authorizations failed: ${detail}`,
    ...(first.status === undefined ? {} : { status: first.status }),
    subproblems,
  };
}

function orderProblem(order: Order): AcmeProblem {
  return order.error
    ? readProblem(order.error)
    : { type: `${ACME_ERROR}orderNotReady`, detail: 'the order became invalid', subproblems: [] };
}

/** Calls `poll` until it gives a value (it throws to stop), from 200 ms apart up to 5 s, until `deadline`. */
async function settle<T>(poll: () => Promise<T | undefined>, deadline: number, signal?: AbortSignal): Promise<T> {
  for (let wait = 200; ; wait = Math.min(wait * 2, 5_000)) {
    const value = await poll();
    if (value !== undefined) return value;
    if (Date.now() + wait > deadline)
      throw new AcmeProblemError({
        type: ACME_TIMEOUT,
        detail: 'the ACME server did not settle in time',
        subproblems: [],
      });
    await sleep(wait, undefined, { signal });
  }
}

/** `work`, or the signal's reason as soon as it aborts (acme-client's own waits do not listen). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function asProblem(
  err: unknown,
  transport: { lastProblem(): AcmeProblem | undefined; failure(): Error | undefined },
  directoryUrl: string,
  signal?: AbortSignal,
): unknown {
  if (err instanceof PaasError) return err;
  if (signal?.aborted) return new PaasError('aborted', 'ACME: the issuance was cancelled', { cause: err });
  const problem = transport.lastProblem();
  if (problem) return new AcmeProblemError(problem, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  // a transport failure names its request's URL; anything else gets the directory's
  const detail = transport.failure() ? message : `ACME directory ${directoryUrl}: ${message}`;
  return new AcmeProblemError({ type: ACME_UNREACHABLE, detail, subproblems: [] }, { cause: err });
}

/** A fresh ECDSA P-256 private key, PKCS#8 PEM (certificates' keys and the account key alike). */
export function newEcdsaKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

/**
 * Where the sealed account key of one directory is kept (a key sealed for one directory does not
 * open for another); `saveIfAbsent` keeps the first value saved and returns it.
 */
export interface AccountKeyStore {
  load(): Promise<string | undefined>;
  saveIfAbsent(sealed: string): Promise<string>;
}

/**
 * The ACME account key for `directoryUrl`, made once: loaded and opened with `sealingKey`, or
 * made, sealed and saved; when replicas race, every one of them uses the value saved first.
 */
export async function ensureAccountKey(
  store: AccountKeyStore,
  sealingKey: Buffer,
  directoryUrl: string,
): Promise<string> {
  const associated = `acme-account:${directoryUrl}`;
  const kept = (await store.load()) ?? (await store.saveIfAbsent(seal(sealingKey, newEcdsaKeyPem(), associated)));
  return unseal(sealingKey, kept, associated);
}
