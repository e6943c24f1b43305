/**
 * ACME HTTP-01 challenges, as the control plane publishes them and every router answers them.
 *
 *   paas:acme:http-01:TOKEN   string   the key authorization for TOKEN; expires on its own
 *
 * The issuer (the api's certificate manager) writes a token's key authorization before it
 * asks the ACME server to validate, and removes it once the authorization is settled. Any
 * router worker, asked `GET /.well-known/acme-challenge/TOKEN` over plain HTTP for any host,
 * answers 200 with exactly the key authorization (text/plain), or 404. A token is an ACME
 * token (RFC 8555 8.3: base64url, here at most 256 characters); anything else is never looked up.
 */
import type { Redis } from 'ioredis';

export const ACME_CHALLENGE_PREFIX = 'paas:acme:http-01:';
export const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/';
/** A challenge left behind by an issuer that died is gone after this long. */
export const ACME_CHALLENGE_TTL_S = 3600;

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function isAcmeToken(token: string): boolean {
  return TOKEN.test(token);
}

/** Publishes a token's key authorization for every router. */
export async function putAcmeChallenge(redis: Redis, token: string, keyAuthorization: string): Promise<void> {
  if (!isAcmeToken(token)) throw new Error(`not an ACME token: ${JSON.stringify(token.slice(0, 40))}`);
  await redis.set(ACME_CHALLENGE_PREFIX + token, keyAuthorization, 'EX', ACME_CHALLENGE_TTL_S);
}

export async function removeAcmeChallenge(redis: Redis, token: string): Promise<void> {
  if (isAcmeToken(token)) await redis.del(ACME_CHALLENGE_PREFIX + token);
}

/** The key authorization a router answers for `token`; null when there is none (404). */
export async function readAcmeChallenge(redis: Redis, token: string): Promise<string | null> {
  return isAcmeToken(token) ? redis.get(ACME_CHALLENGE_PREFIX + token) : null;
}
