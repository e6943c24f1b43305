import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type ApiToken, type App, JOIN_TOKEN_PATTERN, findApp, tokenAllowsApp, tokenMayUseApp } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import type { ApiRequest } from '../common/request';
import { DATA_SOURCE } from '../core/tokens';
import { authenticate } from './authenticate';
import { ADMIN_ROUTE, JOIN_ROUTE, NODE_ROUTE, PUBLIC_ROUTE } from './decorators';
import { AuthRateLimiter } from './rate-limiter';

/**
 * The api's one door (docs/api.md "Authentication"): every route but @Public ones needs a
 * Bearer token; @AdminOnly routes an admin token; @ForNodes routes (the agents') a node or
 * admin token, and node tokens reach nothing else; a node token bound to a node (one
 * `paas node join` issued) acts only as that node; the @ForJoining route a join token or an
 * admin token, and join tokens reach nothing else; a route with `:app` gets the app found
 * and checked against the token's scope here, so no controller can forget the check.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('auth');

  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(AuthRateLimiter) private readonly limiter: AuthRateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = context.switchToHttp().getRequest<ApiRequest>();
    return this.authorize(req, {
      forJoining: this.reflector.getAllAndOverride<boolean>(JOIN_ROUTE, targets) ?? false,
      forNodes: this.reflector.getAllAndOverride<boolean>(NODE_ROUTE, targets) ?? false,
      adminOnly: this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets) ?? false,
    });
  }

  /**
   * The checks for a request to a route of this kind; also the door of what is no Nest route
   * (an HTTP Upgrade: one-off runs' terminals), which sets `req.params` itself.
   */
  async authorize(
    req: ApiRequest,
    { forJoining, forNodes, adminOnly }: { forJoining: boolean; forNodes: boolean; adminOnly: boolean },
  ): Promise<boolean> {
    const bearer = bearerOf(req);
    if (bearer !== undefined && JOIN_TOKEN_PATTERN.test(bearer)) {
      // the route checks it, uses it up and answers 401 in the same transaction
      if (forJoining) return true;
      throw ApiError.forbidden('a join token may only join a node (POST /api/nodes/join)');
    }
    const token = await this.authenticate(req, bearer);
    if (forJoining) {
      if (!token.admin)
        throw ApiError.forbidden('joining a node needs a join token (paas nodes:join-token) or an admin token');
      return true;
    }
    if (token.node !== forNodes && !token.admin) {
      throw ApiError.forbidden(
        token.node
          ? 'a node token may only reach its node: register, heartbeat, logs and events'
          : 'this needs a node or admin token',
      );
    }
    if (token.node && token.nodeName !== null) this.checkBoundNode(req, token, token.nodeName);
    if (adminOnly && !token.admin) {
      throw ApiError.forbidden('this needs an admin token');
    }
    const appParam = req.params['app'];
    if (appParam !== undefined) req.paasApp = await this.appFor(token, appParam);
    return true;
  }

  private async authenticate(req: ApiRequest, bearer: string | undefined): Promise<ApiToken> {
    const result = await authenticate(req, bearer, this.dataSource, this.limiter);
    if (result.ok) {
      req.token = result.token;
      return result.token;
    }
    if (result.status === 429) throw ApiError.rateLimited(result.retryAfterSeconds);
    if (result.reason === 'revoked') {
      const node = result.token.nodeName ?? '?';
      this.logger.warn(`refused node ${node} (${req.socket.remoteAddress ?? '?'}): its credential was revoked`);
      throw ApiError.unauthorized(`node credential revoked: node ${node} was removed (paas nodes:remove)`);
    }
    throw ApiError.unauthorized(
      result.reason === 'unknown' ? 'unknown API token' : 'missing API token: send Authorization: Bearer <token>',
    );
  }

  /**
   * A bound node token acts only as its node: the heartbeat's `:name`, or the name a
   * registration gives (its body, parsed before guards run). A refusal is logged: a node
   * claiming another's name is a misconfigured or a hostile machine.
   */
  private checkBoundNode(req: ApiRequest, token: ApiToken, bound: string): void {
    const body = (req as ApiRequest & { body?: unknown }).body;
    const named =
      req.params['name'] ?? (body && typeof body === 'object' ? (body as Record<string, unknown>)['name'] : undefined);
    if (named === bound) return;
    this.logger.warn(
      `refused a request of node ${bound} (${req.socket.remoteAddress ?? '?'}) as node ${JSON.stringify(named ?? null)}`,
    );
    throw ApiError.forbidden(`this node credential belongs to node ${bound}`);
  }

  /** A token scoped to other apps learns nothing, not even whether the app exists. */
  private async appFor(token: ApiToken, nameOrId: string): Promise<App> {
    const app = await findApp(this.dataSource.manager, nameOrId);
    if (app && (await tokenMayUseApp(this.dataSource.manager, token, app))) return app;
    if (!app && tokenAllowsApp(token, nameOrId)) throw ApiError.notFound(`app '${nameOrId}' not found`);
    throw ApiError.forbidden(`this token may not use app '${nameOrId}'`);
  }
}

function bearerOf(req: ApiRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}
