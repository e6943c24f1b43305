/**
 * git's smart HTTP protocol at /git/APP.git, as `git http-backend` serves it:
 *
 *   GET  /git/APP.git/info/refs?service=git-upload-pack|git-receive-pack   ref advertisement
 *   POST /git/APP.git/git-upload-pack                                       fetch / clone
 *   POST /git/APP.git/git-receive-pack                                      push
 *
 * each through `git <service> --stateless-rpc` on the app's bare repository, streamed both
 * ways (request bodies may be gzip'd). Pushes run receive-pack with the proc-receive hook on
 * every branch (proc-receive.ts), which builds and releases before the branch moves: main and
 * master to the app, others to their review apps (push-flow.ts).
 *
 * Registered on the HTTP server as a plain handler, outside Nest's router and its `/api`
 * prefix: git needs raw streams, and its own status codes and WWW-Authenticate header.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { type ApiToken, type App, findApp, gitEnv, tokenAllowsApp, tokenMayUseApp } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core/tokens';
import { PushService } from './push.service';
import { AuthRateLimiter } from '../auth/rate-limiter';
import { authenticateGit } from './git-auth';
import { FLUSH, pkt } from './pkt-line';
import { serveProcReceive } from './proc-receive';
import { GitRepos, PROC_RECEIVE_REFS } from './repos';

type Service = 'git-upload-pack' | 'git-receive-pack';
const SERVICES: ReadonlySet<string> = new Set(['git-upload-pack', 'git-receive-pack']);
const ROUTE = /^\/([^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;

/** Injection token of the GitRepos instance. */
export const GIT_REPOS = Symbol('GIT_REPOS');

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers });
  res.end(`${message}\n`);
}

const NO_CACHE = {
  'Cache-Control': 'no-cache, max-age=0, must-revalidate',
  Pragma: 'no-cache',
  Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
};

@Injectable()
export class GitHttpService {
  private readonly logger = new Logger('git');
  private readonly limiter: AuthRateLimiter;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(GIT_REPOS) private readonly repos: GitRepos,
    @Inject(PushService) private readonly pushes: PushService,
    // the REST guard's, when AuthModule exports it: one failure count per address for both
    @Optional() @Inject(AuthRateLimiter) limiter?: AuthRateLimiter,
  ) {
    this.limiter = limiter ?? new AuthRateLimiter();
  }

  /** Handles a request under /git (req.url without the /git prefix). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://git.invalid');
    const route = ROUTE.exec(url.pathname);
    if (!route) return reply(res, 404, 'not found: app repositories are at /git/APP.git');
    const [, name = '', action = ''] = route;
    let service: Service;
    if (action === 'info/refs') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed', { Allow: 'GET' });
      const wanted = url.searchParams.get('service') ?? '';
      if (!SERVICES.has(wanted))
        return reply(res, 403, 'only the smart HTTP protocol is served: use git 1.6.6 or newer');
      service = wanted as Service;
    } else {
      if (req.method !== 'POST') return reply(res, 405, 'method not allowed', { Allow: 'POST' });
      service = action as Service;
      if (req.headers['content-type'] !== `application/x-${service}-request`) {
        return reply(res, 415, `expected Content-Type application/x-${service}-request`);
      }
      const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (!['identity', 'gzip', 'x-gzip'].includes(encoding))
        return reply(res, 415, `unsupported Content-Encoding ${encoding}`);
    }

    const auth = await authenticateGit(req, this.dataSource, this.limiter);
    if (!auth.ok) {
      if (auth.status === 429) {
        return reply(res, 429, 'too many failed authentications: try again later', {
          'Retry-After': String(auth.retryAfterSeconds),
        });
      }
      return reply(res, 401, auth.message, { 'WWW-Authenticate': 'Basic realm="paas"' });
    }
    // as the REST guard: a token scoped to other apps learns nothing, not even whether it exists
    const app = await findApp(this.dataSource.manager, name);
    if (!app || app.name !== name) {
      if (tokenAllowsApp(auth.token, name)) return reply(res, 404, `app '${name}' not found`);
      return reply(res, 403, `this token may not use app '${name}'`);
    }
    if (!(await tokenMayUseApp(this.dataSource.manager, auth.token, app)))
      return reply(res, 403, `this token may not use app '${app.name}'`);
    const repo = await this.repos.ensure(app.name);

    if (action === 'info/refs') return this.advertise(req, res, service, repo);
    if (service === 'git-upload-pack') return this.uploadPack(req, res, repo);
    return this.receivePack(req, res, app, repo, auth.token);
  }

  /** `Git-Protocol: version=2` (fetches only): passed to upload-pack as GIT_PROTOCOL. */
  private protocol(req: IncomingMessage, service: Service): Record<string, string> {
    const value = req.headers['git-protocol'];
    return service === 'git-upload-pack' && typeof value === 'string' && /^[\w=:,.-]+$/.test(value)
      ? { GIT_PROTOCOL: value }
      : {};
  }

  private async advertise(req: IncomingMessage, res: ServerResponse, service: Service, repo: string): Promise<void> {
    const env = this.protocol(req, service);
    const child = spawn('git', [service.slice(4), '--stateless-rpc', '--advertise-refs', repo], {
      env: gitEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    res.writeHead(200, { 'Content-Type': `application/x-${service}-advertisement`, ...NO_CACHE });
    // protocol v2 starts with its capabilities, without the service line (as http-backend)
    if (!/version=2/.test(env['GIT_PROTOCOL'] ?? '')) res.write(Buffer.concat([pkt(`# service=${service}\n`), FLUSH]));
    await this.stream(child, req, res, undefined, `${service} --advertise-refs`);
  }

  private async uploadPack(req: IncomingMessage, res: ServerResponse, repo: string): Promise<void> {
    const child = spawn('git', ['upload-pack', '--stateless-rpc', repo], {
      env: gitEnv(this.protocol(req, 'git-upload-pack')),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-result', ...NO_CACHE });
    await this.stream(child, req, res, requestBody(req), 'upload-pack');
  }

  private async receivePack(
    req: IncomingMessage,
    res: ServerResponse,
    app: App,
    repo: string,
    pusher: ApiToken,
  ): Promise<void> {
    const args = ['-c', `receive.procReceiveRefs=${PROC_RECEIVE_REFS}`];
    const child = spawn(
      'git',
      [...args, '-c', `core.hooksPath=${this.repos.hooks}`, 'receive-pack', '--stateless-rpc', repo],
      {
        env: gitEnv(),
        // fd 3-5: the proc-receive hook's relay (proc-receive.ts)
        stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      },
    );
    const stdio = child.stdio as unknown as [Writable, Readable, Readable, Readable, Writable, Writable];
    const hook = serveProcReceive({ fromHook: stdio[3], toHook: stdio[4], progress: stdio[5] }, (commands, out) =>
      this.pushes.receive(app, repo, commands, out, pusher),
    ).catch((err: unknown) => this.logger.error(`push to ${app.name}: proc-receive: ${(err as Error).message}`));
    res.writeHead(200, { 'Content-Type': 'application/x-git-receive-pack-result', ...NO_CACHE });
    await this.stream(child, req, res, requestBody(req), `receive-pack of ${app.name}`);
    await hook;
  }

  /**
   * Feeds the body to git and git's output to the response. A pusher that goes away does not
   * stop the git process: a push already building finishes its release (Heroku does the same).
   * An api that dies does: its pipes close, the proc-receive hook ends (repos.ts), and
   * receive-pack with it; what its build left is settled by another api (push-lease.ts).
   */
  private async stream(
    child: ReturnType<typeof spawn>,
    req: IncomingMessage,
    res: ServerResponse,
    body: Readable | undefined,
    what: string,
  ): Promise<void> {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    child.once('error', (err) => this.logger.error(`${what}: ${err.message}`));
    if (body && child.stdin) {
      pipeline(body, child.stdin).catch((err: Error) => {
        if (!req.destroyed) this.logger.warn(`${what}: request body: ${err.message}`);
      });
    }
    child.stdout?.pipe(res);
    res.once('close', () => {
      if (!res.writableFinished) {
        child.stdout?.unpipe(res);
        child.stdout?.resume();
      }
    });
    const code = await exited;
    if (code !== 0) this.logger.warn(`${what} exited ${code}: ${stderr.trim()}`);
  }
}

/** The request body, inflated when git compressed it. */
function requestBody(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = createGunzip();
    req.pipe(gunzip);
    req.once('error', (err) => gunzip.destroy(err));
    return gunzip;
  }
  return req;
}
