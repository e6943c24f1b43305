/**
 * API tokens: `paas_` + 40 base62 characters (238 bits), stored as sha256 hashes. The token
 * is shown once when made; a lookup hashes what the client sent and compares hashes.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ApiToken } from './model/entities';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_PATTERN = /^paas_[0-9A-Za-z]{40}$/;

export function generateToken(): string {
  let out = 'paas_';
  while (out.length < 45) {
    for (const byte of randomBytes(64)) {
      // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
      if (byte < 248 && out.length < 45) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface IssuedToken {
  readonly token: string;
  readonly record: ApiToken;
}

/** What a token is for: every app or some (`apps`), the operator's (`admin`) or a node's (`node`). */
export interface TokenOptions {
  readonly name: string;
  readonly apps?: string[] | null;
  readonly admin?: boolean;
  readonly node?: boolean;
}

export async function issueToken(manager: EntityManager, options: TokenOptions): Promise<IssuedToken> {
  if (options.node && (options.admin || (options.apps ?? null) !== null))
    throw new Error('a node token is neither an admin token nor scoped to apps');
  const token = generateToken();
  const record = manager.create(ApiToken, {
    id: randomUUID(),
    name: options.name,
    hash: hashToken(token),
    prefix: token.slice(0, 12),
    apps: options.apps ?? null,
    admin: options.admin ?? false,
    node: options.node ?? false,
    lastUsedAt: null,
  });
  await manager.insert(ApiToken, record);
  return { token, record };
}

/** The token's record, or null when the string is malformed or unknown. */
export async function findToken(manager: EntityManager, token: string): Promise<ApiToken | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  return manager.findOne(ApiToken, { where: { hash: hashToken(token) } });
}

/** Whether a token may act on an app (by name); a node token acts on none. */
export function tokenAllowsApp(token: ApiToken, app: string): boolean {
  if (token.node) return false;
  return token.admin || token.apps === null || token.apps.includes(app);
}
