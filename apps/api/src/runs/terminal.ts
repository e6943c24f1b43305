/**
 * One-off runs with a terminal (docs/api.md "One-off runs with a terminal"): `POST
 * /api/apps/:app/runs` with `Connection: Upgrade` and `Upgrade: paas-tty/1` is no Nest route
 * (Node hands an Upgrade to the server's `upgrade` listeners, never to the app): this listener
 * passes it through the api's door (AuthGuard.authorize, the body checked as RunDto) and hands
 * the connection to RunsService.runTerminal (the wire: tty-bridge.ts).
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type IncomingMessage, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { PaasError } from '@paas/errors';
import { AuthGuard } from '../auth/auth.guard';
import { ApiError } from '../common/api-error';
import { ErrorFilter } from '../common/error.filter';
import { verifyJsonDepth } from '../common/json-depth';
import type { ApiRequest } from '../common/request';
import { validBody } from '../common/validation';
import { RunDto } from './runs.dto';
import { RunsService } from './runs.service';
import { TTY_PROTOCOL } from '@paas/engine';

/** As the api's JSON bodies elsewhere (server.ts). */
const BODY_MAX_BYTES = 1024 * 1024;
/** How long the body of an Upgrade may take to arrive. */
const BODY_TIMEOUT_MS = 30_000;
const ROUTE = /^\/api\/apps\/([^/?#]+)\/runs\/?(?:\?.*)?$/;

@Injectable()
export class RunTerminals implements OnApplicationBootstrap {
  private readonly logger = new Logger('runs');
  private readonly errors = new ErrorFilter();

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(AuthGuard) private readonly auth: AuthGuard,
    @Inject(RunsService) private readonly runs: RunsService,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (typeof server?.on !== 'function') return; // an application context without HTTP
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.upgrade(req, socket, head));
  }

  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    try {
      const match = ROUTE.exec(req.url ?? '');
      if (!match || req.method !== 'POST')
        throw ApiError.notFound(`no upgrade at ${req.method ?? '?'} ${req.url?.split('?')[0] ?? ''}`);
      const protocol = req.headers.upgrade ?? '';
      if (protocol.toLowerCase() !== TTY_PROTOCOL)
        throw ApiError.invalidParams(`Upgrade: ${protocol} is not served: one-off runs speak ${TTY_PROTOCOL}`);
      const apiReq = req as ApiRequest;
      apiReq.params = { app: decodeURIComponent(match[1] ?? '') };
      await this.auth.authorize(apiReq, { forJoining: false, forNodes: false, adminOnly: false });
      const { body, rest } = await readJsonBody(req, socket, head);
      const run = await validBody(RunDto, body);
      if (run.tty === false) throw ApiError.invalidParams(`"tty": false with Upgrade: ${TTY_PROTOCOL}`);
      if ((run.rows === undefined) !== (run.cols === undefined))
        throw ApiError.invalidParams('rows and cols go together');
      const size = run.rows !== undefined && run.cols !== undefined ? { rows: run.rows, cols: run.cols } : undefined;
      const app = apiReq.paasApp;
      const token = apiReq.token;
      if (!app || !token) throw new Error('the auth guard let a run through without its app or token');
      await this.runs.runTerminal(app, run, size, token, socket, rest);
    } catch (err) {
      // runTerminal throws what fails before its 101 as well: then the answer is still HTTP
      if (socket.bytesWritten > 0 || socket.destroyed) {
        this.logger.error(`terminal of ${req.url ?? '?'}: ${(err as Error).stack ?? String(err)}`);
        socket.destroy();
        return;
      }
      const { status, body, headers } = this.errors.describe(err, req);
      if (status >= 500)
        this.logger.error(`${req.method ?? '?'} ${req.url ?? '?'}: ${(err as Error).stack ?? String(err)}`);
      const json = JSON.stringify(body);
      const lines = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(json)}`,
        'Connection: close',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.end(`${lines.join('\r\n')}\r\n\r\n${json}`);
    }
  }
}

/** The request's JSON body (Content-Length, at most 1 MiB) and what came after it on the socket. */
async function readJsonBody(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? NaN);
  if (!Number.isInteger(length) || length < 0)
    throw ApiError.invalidParams('the body must be JSON with a Content-Length (no chunked body with an Upgrade)');
  if (length > BODY_MAX_BYTES) throw new ApiError('payload_too_large', 'the body is too large');
  let data = head;
  // a body that never comes would hold the connection: the headers' own timeout is over by now
  socket.setTimeout(BODY_TIMEOUT_MS, () => socket.destroy());
  while (data.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const done = (c: Buffer | null): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.pause();
        resolve(c);
      };
      const onData = (c: Buffer): void => done(c);
      const onEnd = (): void => done(null);
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.resume();
    });
    if (chunk === null) throw ApiError.invalidParams('the body ended before its Content-Length');
    data = Buffer.concat([data, chunk]);
  }
  socket.setTimeout(0);
  const raw = Buffer.from(data.subarray(0, length));
  try {
    verifyJsonDepth(req, undefined, raw);
    return { body: JSON.parse(raw.toString('utf8')) as unknown, rest: Buffer.from(data.subarray(length)) };
  } catch (err) {
    if (err instanceof PaasError) throw err;
    throw ApiError.invalidParams(`the body could not be read: ${(err as Error).message}`);
  }
}
