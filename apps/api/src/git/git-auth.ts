/**
 * HTTP basic auth for git, Heroku's way: any user name, the API token as the password (or as
 * the user name when the password is empty). Wrong tokens count against the client's address
 * in the api's AuthRateLimiter (docs/api.md "Authentication"): after 10 in a minute it gets
 * 429. A request without credentials is not a failure: git always asks once without them.
 */
import type { IncomingMessage } from 'node:http';
import { ApiToken, findToken } from '@paas/platform';
import type { DataSource } from 'typeorm';
import type { AuthRateLimiter } from '../auth/rate-limiter';

/** `lastUsedAt` is written at most this often per token, as the REST guard does. */
const TOUCH_INTERVAL_MS = 60_000;

export type GitAuthResult =
  | { readonly ok: true; readonly token: ApiToken }
  | { readonly ok: false; readonly status: 401; readonly message: string }
  | { readonly ok: false; readonly status: 429; readonly retryAfterSeconds: number };

/** The token in an `Authorization: Basic …` header, or undefined. */
export function basicAuthToken(header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password || user || undefined;
}

export async function authenticateGit(
  req: IncomingMessage,
  dataSource: DataSource,
  limiter: AuthRateLimiter,
): Promise<GitAuthResult> {
  const address = req.socket.remoteAddress ?? 'unknown';
  const wait = limiter.retryAfter(address);
  if (wait > 0) return { ok: false, status: 429, retryAfterSeconds: wait };
  const secret = basicAuthToken(req.headers.authorization);
  if (secret === undefined) {
    return { ok: false, status: 401, message: 'authentication required: an API token as the password' };
  }
  const token = await findToken(dataSource.manager, secret);
  if (!token) {
    limiter.fail(address);
    return { ok: false, status: 401, message: 'unknown API token' };
  }
  const now = Date.now();
  if (token.lastUsedAt === null || now - Date.parse(token.lastUsedAt) >= TOUCH_INTERVAL_MS) {
    await dataSource.manager.update(ApiToken, { id: token.id }, { lastUsedAt: new Date(now).toISOString() });
  }
  return { ok: true, token };
}
