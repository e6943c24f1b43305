import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiToken, App } from '@paas/platform';
import type { IncomingMessage } from 'node:http';

/** What Express and our guard put on a request (typed here; the api has no @types/express). */
export interface ApiRequest extends IncomingMessage {
  params: Record<string, string>;
  /** The authenticated token, set by the auth guard. */
  token?: ApiToken;
  /** The `:app` of the route, found and scope-checked by the auth guard. */
  paasApp?: App;
}

function request(ctx: ExecutionContext): ApiRequest {
  return ctx.switchToHttp().getRequest<ApiRequest>();
}

/** The app named by the route's `:app`, already checked against the token's scope. */
export const CurrentApp = createParamDecorator((_: unknown, ctx: ExecutionContext): App => {
  const app = request(ctx).paasApp;
  if (!app) throw new Error('CurrentApp on a route without :app');
  return app;
});

/** The token the request authenticated with. */
export const CurrentToken = createParamDecorator((_: unknown, ctx: ExecutionContext): ApiToken => {
  const token = request(ctx).token;
  if (!token) throw new Error('CurrentToken on a public route');
  return token;
});

/**
 * The base URL clients reach the api at: the request's Host header (so `gitUrl` is what the
 * client can use, through whatever name or port it came in), else the socket's own address;
 * https when the request came over TLS (the api off loopback).
 */
export function baseUrl(req: IncomingMessage): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const host = req.headers.host;
  if (host && /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host)) return `${scheme}://${host}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  return `${scheme}://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}
