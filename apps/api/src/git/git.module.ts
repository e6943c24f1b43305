import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { BuildsQueueModule } from '../builds-queue/builds-queue.module';
import { ReviewsModule } from '../reviews/reviews.module';
import { API_CONFIG, type ApiConfig } from '../config';
import { PushService } from './push.service';
import { GIT_REPOS, GitHttpService } from './git-http.service';
import { GitRepos } from './repos';

interface UsesHandlers {
  use(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): unknown;
}

/**
 * The git receiver at /git. Its handler goes straight onto the HTTP server (in onModuleInit,
 * which Nest runs after its own routes and before its 404 handler), so it is outside the
 * `/api` prefix, guards and body parsing. Exports GIT_REPOS for whoever deletes an app's repo.
 */
@Module({
  imports: [BuildsQueueModule, ReviewsModule],
  providers: [
    { provide: GIT_REPOS, useFactory: (config: ApiConfig) => new GitRepos(config.gitRoot), inject: [API_CONFIG] },
    PushService,
    GitHttpService,
  ],
  exports: [GIT_REPOS],
})
export class GitModule implements OnModuleInit {
  private readonly logger = new Logger('git');

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(GitHttpService) private readonly git: GitHttpService,
  ) {}

  onModuleInit(): void {
    const server = this.adapterHost.httpAdapter?.getInstance() as UsesHandlers | undefined;
    if (typeof server?.use !== 'function') return; // an application context without HTTP
    server.use('/git', (req, res) => {
      this.git.handle(req, res).catch((err: unknown) => {
        this.logger.error(`${req.method} /git${req.url}: ${(err as Error).stack ?? String(err)}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('internal error\n');
        } else res.destroy();
      });
    });
  }
}
