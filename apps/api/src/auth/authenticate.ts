/**
 * The one way a secret becomes a token, for the REST guard and the git receiver alike
 * (docs/api.md "Authentication"): the token is looked up first, and only a failure is counted
 * against the client's address. A valid token always passes, however many failures its
 * address made; failures beyond the limit get 429 with Retry-After. A request without
 * credentials is not counted: it guesses nothing (and git always asks once without them).
 */
import { ApiToken, findToken } from '@paas/platform';
import type { IncomingMessage } from 'node:http';
import type { DataSource } from 'typeorm';
import type { AuthRateLimiter } from './rate-limiter';

/** `lastUsedAt` is written at most this often per token: a request should not cost a write. */
const TOUCH_INTERVAL_MS = 60_000;

export type Authentication =
  | { readonly ok: true; readonly token: ApiToken }
  | { readonly ok: false; readonly status: 401; readonly reason: 'missing' | 'unknown' }
  /** A node credential `nodes:remove` revoked: its node is told why, and it guessed nothing. */
  | { readonly ok: false; readonly status: 401; readonly reason: 'revoked'; readonly token: ApiToken }
  | { readonly ok: false; readonly status: 429; readonly retryAfterSeconds: number };

export async function authenticate(
  req: IncomingMessage,
  secret: string | undefined,
  dataSource: DataSource,
  limiter: AuthRateLimiter,
): Promise<Authentication> {
  if (secret === undefined) return { ok: false, status: 401, reason: 'missing' };
  const token = await findToken(dataSource.manager, secret);
  if (!token) {
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.retryAfter(address);
    if (wait > 0) return { ok: false, status: 429, retryAfterSeconds: wait };
    limiter.fail(address);
    return { ok: false, status: 401, reason: 'unknown' };
  }
  if (token.revokedAt !== null) return { ok: false, status: 401, reason: 'revoked', token };
  const now = Date.now();
  if (token.lastUsedAt === null || now - Date.parse(token.lastUsedAt) >= TOUCH_INTERVAL_MS) {
    token.lastUsedAt = new Date(now).toISOString();
    await dataSource.manager.update(ApiToken, { id: token.id }, { lastUsedAt: token.lastUsedAt });
  }
  return { ok: true, token };
}
