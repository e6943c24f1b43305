import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type ApiToken, type App, findApp, tokenAllowsApp } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import type { ApiRequest } from '../common/request';
import { DATA_SOURCE } from '../core/tokens';
import { authenticate } from './authenticate';
import { ADMIN_ROUTE, NODE_ROUTE, PUBLIC_ROUTE } from './decorators';
import { AuthRateLimiter } from './rate-limiter';

/**
 * The api's one door (docs/api.md "Authentication"): every route but @Public ones needs a
 * Bearer token; @AdminOnly routes an admin token; @ForNodes routes (the agents') a node or
 * admin token, and node tokens reach nothing else; a route with `:app` gets the app found
 * and checked against the token's scope here, so no controller can forget the check.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(AuthRateLimiter) private readonly limiter: AuthRateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = context.switchToHttp().getRequest<ApiRequest>();
    const token = await this.authenticate(req);
    const forNodes = this.reflector.getAllAndOverride<boolean>(NODE_ROUTE, targets) ?? false;
    if (token.node !== forNodes && !token.admin) {
      throw ApiError.forbidden(
        token.node
          ? 'a node token may only reach its node: register, heartbeat, logs and events'
          : 'this needs a node or admin token',
      );
    }
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets) && !token.admin) {
      throw ApiError.forbidden('this needs an admin token');
    }
    const appParam = req.params['app'];
    if (appParam !== undefined) req.paasApp = await this.appFor(token, appParam);
    return true;
  }

  private async authenticate(req: ApiRequest): Promise<ApiToken> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const result = await authenticate(req, match?.[1], this.dataSource, this.limiter);
    if (result.ok) {
      req.token = result.token;
      return result.token;
    }
    if (result.status === 429) throw ApiError.rateLimited(result.retryAfterSeconds);
    throw ApiError.unauthorized(
      result.reason === 'unknown' ? 'unknown API token' : 'missing API token: send Authorization: Bearer <token>',
    );
  }

  /** A token scoped to other apps learns nothing, not even whether the app exists. */
  private async appFor(token: ApiToken, nameOrId: string): Promise<App> {
    const app = await findApp(this.dataSource.manager, nameOrId);
    if (app && tokenAllowsApp(token, app.name)) return app;
    if (!app && tokenAllowsApp(token, nameOrId)) throw ApiError.notFound(`app '${nameOrId}' not found`);
    throw ApiError.forbidden(`this token may not use app '${nameOrId}'`);
  }
}
