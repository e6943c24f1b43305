/**
 * Bearer tokens: compact JWTs signed with HMAC-SHA256 under a key kept in the registry's
 * root (created on first start, mode 0600). The registry issues and checks its own tokens,
 * so a symmetric key is enough; the claims are Docker's (`iss`, `sub`, `aud`, `exp`, `nbf`,
 * `iat`, `jti`, `access`), so a real token server could take this role later.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createFileAtomic } from '@paas/content';
import type { Access } from './scopes';

export const SERVICE = 'paas-registry';

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Access[];
}

export class TokenSigner {
  private constructor(private readonly key: Buffer) {}

  /** Loads the key at `path`, creating it on first use. */
  static async open(path: string): Promise<TokenSigner> {
    try {
      return new TokenSigner(Buffer.from((await readFile(path, 'utf8')).trim(), 'hex'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // whole or not at all, and the first process's key for everyone (a crash mid-write would
    // leave a short key every later start refused to sign with)
    await createFileAtomic(path, randomBytes(32).toString('hex'), 0o600);
    return new TokenSigner(Buffer.from((await readFile(path, 'utf8')).trim(), 'hex'));
  }

  sign(
    subject: string,
    access: Access[],
    ttlSeconds: number,
    now = Date.now(),
  ): { token: string; claims: TokenClaims } {
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      iss: SERVICE,
      sub: subject,
      aud: SERVICE,
      exp: iat + ttlSeconds,
      nbf: iat - 1,
      iat,
      jti: randomUUID(),
      access,
    };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return { token: `${head}.${body}.${this.mac(`${head}.${body}`)}`, claims };
  }

  /** The claims of a well-signed, current token for our audience; undefined otherwise. */
  verify(token: string, now = Date.now()): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head = '', body = '', sig = ''] = parts;
    const expected = Buffer.from(this.mac(`${head}.${body}`));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg !== 'HS256') return undefined;
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
      const t = now / 1000;
      if (claims.aud !== SERVICE || typeof claims.exp !== 'number' || claims.exp < t || claims.nbf > t)
        return undefined;
      if (!Array.isArray(claims.access)) return undefined;
      return claims;
    } catch {
      return undefined;
    }
  }

  private mac(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
