/**
 * API tokens: `paas_` + 40 base62 characters (238 bits), stored as sha256 hashes. The token
 * is shown once when made; a lookup hashes what the client sent and compares hashes.
 *
 * Join tokens (`paas nodes:join-token`) are made and stored the same way with their own
 * prefix, `pjoin_`, so that neither kind is ever taken for the other.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type EntityManager, In } from 'typeorm';
import { ApiToken, App, JoinToken } from './model/entities';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_PATTERN = /^paas_[0-9A-Za-z]{40}$/;
export const JOIN_TOKEN_PATTERN = /^pjoin_[0-9A-Za-z]{40}$/;

/** `prefix` + 40 base62 characters. */
export function generateToken(prefix: 'paas_' | 'pjoin_' = 'paas_'): string {
  const length = prefix.length + 40;
  let out = prefix;
  while (out.length < length) {
    for (const byte of randomBytes(64)) {
      // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
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
  /** A node token's node: it may act only as that node. */
  readonly nodeName?: string | null;
}

export async function issueToken(manager: EntityManager, options: TokenOptions): Promise<IssuedToken> {
  if (options.node && (options.admin || (options.apps ?? null) !== null))
    throw new Error('a node token is neither an admin token nor scoped to apps');
  if ((options.nodeName ?? null) !== null && !options.node) throw new Error('only a node token is bound to a node');
  const token = generateToken();
  const record = manager.create(ApiToken, {
    id: randomUUID(),
    name: options.name,
    hash: hashToken(token),
    prefix: token.slice(0, 12),
    apps: options.apps ?? null,
    admin: options.admin ?? false,
    node: options.node ?? false,
    nodeName: options.nodeName ?? null,
    revokedAt: null,
    lastUsedAt: null,
  });
  await manager.insert(ApiToken, record);
  return { token, record };
}

/** The token's record (a revoked one too: see `revokedAt`), or null when the string is malformed or unknown. */
export async function findToken(manager: EntityManager, token: string): Promise<ApiToken | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  return manager.findOne(ApiToken, { where: { hash: hashToken(token) } });
}

/** An app as a token's scope sees it: its name and, for a review app, its parent's name. */
export interface ScopedApp {
  readonly name: string;
  readonly parent: string | null;
}

/**
 * Whether a token may act on an app (by name, or as scopedApps gives it); a node token acts
 * on none. The one scope rule: a token scoped to an app may use that app's review apps too,
 * whenever they were made (scopes hold names of apps users made, never review apps).
 */
export function tokenAllowsApp(token: ApiToken, app: string | ScopedApp): boolean {
  if (token.node) return false;
  if (token.admin || token.apps === null) return true;
  const { name, parent } = typeof app === 'string' ? { name: app, parent: null } : app;
  return token.apps.includes(name) || (parent !== null && token.apps.includes(parent));
}

/** These apps as tokenAllowsApp sees them (their parents' names looked up), in their order. */
export async function scopedApps(
  manager: EntityManager,
  apps: readonly Pick<App, 'name' | 'parentId'>[],
): Promise<ScopedApp[]> {
  const ids = [...new Set(apps.flatMap((a) => a.parentId ?? []))];
  const parents = new Map(
    (ids.length ? await manager.find(App, { where: { id: In(ids) }, select: { id: true, name: true } }) : []).map(
      (p) => [p.id, p.name],
    ),
  );
  return apps.map((a) => ({ name: a.name, parent: a.parentId === null ? null : (parents.get(a.parentId) ?? null) }));
}

/** Whether a token may act on this app row (a review app through its parent: tokenAllowsApp). */
export async function tokenMayUseApp(
  manager: EntityManager,
  token: ApiToken,
  app: Pick<App, 'name' | 'parentId'>,
): Promise<boolean> {
  if (tokenAllowsApp(token, app.name)) return true;
  if (app.parentId === null || token.node) return false;
  return tokenAllowsApp(token, (await scopedApps(manager, [app]))[0] as ScopedApp);
}

export interface IssuedJoinToken {
  readonly token: string;
  readonly record: JoinToken;
}

/** A join token valid until `expiresAt`; the secret is returned once, its hash stored. */
export async function issueJoinToken(manager: EntityManager, expiresAt: Date): Promise<IssuedJoinToken> {
  const token = generateToken('pjoin_');
  const record = manager.create(JoinToken, {
    id: randomUUID(),
    hash: hashToken(token),
    prefix: token.slice(0, 13),
    expiresAt: expiresAt.toISOString(),
    usedAt: null,
    nodeName: null,
  });
  await manager.insert(JoinToken, record);
  return { token, record };
}

/** The join token's record, or null when the string is malformed or unknown. */
export async function findJoinToken(manager: EntityManager, token: string): Promise<JoinToken | null> {
  if (!JOIN_TOKEN_PATTERN.test(token)) return null;
  return manager.findOne(JoinToken, { where: { hash: hashToken(token) } });
}
