/**
 * Who may do what: `none` lets everyone do everything; `token` is Docker's token flow. A
 * request without a valid bearer token gets 401 with a challenge naming the realm, service
 * and scope it needs; a valid token lacking the scope gets 403 DENIED (the client asked for
 * what it wanted and was refused, so asking again would not help). The token endpoint takes
 * HTTP basic credentials (or none, for anonymous pull when allowed) and grants the
 * intersection of what was asked and what the user may do: anonymous clients at most `pull`,
 * never `push`, `delete` or the catalog; `*` asks for everything the user may do.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../errors';
import { isRepositoryName } from '../names';
import { type Access, allows, formatScope, parseScopes } from './scopes';
import { SERVICE, type TokenSigner } from './tokens';
import { type UserAccess, USER_ACTIONS, type UserStore } from './users';

export interface TokenAuthOptions {
  readonly signer: TokenSigner;
  readonly users: UserStore;
  /** Anonymous clients get pull tokens (a public registry). */
  readonly anonymousPull: boolean;
  readonly ttlSeconds: number;
  /** The token endpoint URL; by default `<scheme>://<Host>/token` of each request (https on a TLS server). */
  readonly realm?: string;
}

export interface Authorizer {
  /** Throws UNAUTHORIZED/DENIED unless the request may do all of `needed` (empty: any valid client). */
  check(req: IncomingMessage, needed: Access[]): void;
  /** GET /token; undefined when this authorizer has no token endpoint. */
  readonly token?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

export const openAccess: Authorizer = { check: () => undefined };

export function tokenAuthorizer(options: TokenAuthOptions): Authorizer {
  const realm = (req: IncomingMessage): string =>
    options.realm ?? `${'encrypted' in req.socket ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`;

  const challenge = (req: IncomingMessage, needed: Access[], error?: string): string =>
    `Bearer realm="${realm(req)}",service="${SERVICE}"` +
    (needed.length ? `,scope="${needed.map(formatScope).join(' ')}"` : '') +
    (error ? `,error="${error}"` : '');

  return {
    check(req, needed) {
      const header = req.headers.authorization ?? '';
      const claims = header.startsWith('Bearer ') ? options.signer.verify(header.slice(7).trim()) : undefined;
      if (!claims) {
        const err = new RegistryError('UNAUTHORIZED', 'authentication required', needed.length ? needed : null);
        err.headers['WWW-Authenticate'] = challenge(req, needed, header ? 'invalid_token' : undefined);
        throw err;
      }
      for (const access of needed) {
        if (!allows(claims.access, access)) {
          const err = new RegistryError('DENIED', 'requested access to the resource is denied', access);
          err.headers['WWW-Authenticate'] = challenge(req, needed, 'insufficient_scope');
          throw err;
        }
      }
    },

    async token(req, res) {
      const url = new URL(req.url ?? '/', 'http://registry');
      const requested = url.searchParams.getAll('scope').flatMap(parseScopes);
      const header = req.headers.authorization ?? '';
      let subject = '';
      let may: UserAccess | undefined;
      if (header.startsWith('Basic ')) {
        const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
        may = await options.users.check(user, colon >= 0 ? decoded.slice(colon + 1) : '');
        if (!may) {
          const err = new RegistryError('UNAUTHORIZED', 'incorrect username or password');
          err.headers['WWW-Authenticate'] = `Basic realm="${SERVICE}"`;
          throw err;
        }
        subject = user;
      } else if (options.anonymousPull) {
        may = 'pull';
      } else {
        const err = new RegistryError('UNAUTHORIZED', 'authentication required');
        err.headers['WWW-Authenticate'] = `Basic realm="${SERVICE}"`;
        throw err;
      }
      const granted: Access[] = [];
      for (const scope of requested) {
        if (scope.type === 'repository' && isRepositoryName(scope.name)) {
          const mayDo = USER_ACTIONS[may];
          const actions = scope.actions.includes('*')
            ? [...mayDo]
            : [...new Set(scope.actions)].filter((a) => mayDo.includes(a));
          if (actions.length) granted.push({ type: 'repository', name: scope.name, actions });
        } else if (scope.type === 'registry' && scope.name === 'catalog' && subject) {
          granted.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        }
      }
      const { token, claims } = options.signer.sign(subject, granted, options.ttlSeconds);
      const body = JSON.stringify({
        token,
        access_token: token,
        expires_in: options.ttlSeconds,
        issued_at: new Date(claims.iat * 1000).toISOString(),
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
  };
}
