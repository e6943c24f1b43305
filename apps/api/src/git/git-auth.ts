/**
 * HTTP basic auth for git, Heroku's way: any user name, the API token as the password (or as
 * the user name when the password is empty), checked by the api's one `authenticate`
 * (docs/api.md "Authentication"): after 10 wrong tokens in a minute an address's further
 * wrong tokens get 429, a valid one still passes. A request without credentials is not a
 * failure: git always asks once without them.
 */
import type { IncomingMessage } from 'node:http';
import type { ApiToken } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { authenticate } from '../auth/authenticate';
import type { AuthRateLimiter } from '../auth/rate-limiter';

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
  const result = await authenticate(req, basicAuthToken(req.headers.authorization), dataSource, limiter);
  if (result.ok || result.status === 429) return result;
  return {
    ok: false,
    status: 401,
    message:
      result.reason === 'missing' ? 'authentication required: an API token as the password' : 'unknown API token',
  };
}
