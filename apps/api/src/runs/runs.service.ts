import { Inject, Injectable } from '@nestjs/common';
import { type ContainerRecord, type Engine, EngineError, readLogs } from '@paas/engine';
import { ImageNotFoundError } from '@paas/images';
import { type ApiToken, type App, LABELS, TENANT_PIDS_LIMIT, currentRelease } from '@paas/platform';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { ENGINE } from './engine.provider';

/** The port one-off processes are told to use, as the build sets it for web processes (Heroku's 5000). */
const RUN_PORT = '5000';
/** One-off processes get Heroku's standard size; they run on the control plane's own node. */
const RUN_MEMORY_BYTES = 512 * 1024 * 1024;

@Injectable()
export class RunsService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ENGINE) private readonly engine: Engine,
  ) {}

  /**
   * `heroku run`: the command in a new container of the current release (its image, its
   * config and PORT), output streamed as it comes, then `paas-exit-status: N`. The container
   * is removed afterwards, and stopped when the client goes away.
   */
  async run(
    app: App,
    command: string | string[],
    env: Record<string, string>,
    token: ApiToken,
    res: ServerResponse,
  ): Promise<void> {
    const release = await currentRelease(this.dataSource.manager, app.id);
    if (!release?.imageRef)
      throw ApiError.unprocessable(`app '${app.name}' has no release with an image yet: push code first`);
    const cmd = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const environment = { ...release.config, PORT: RUN_PORT, ...env };
    let record: ContainerRecord;
    try {
      record = await this.engine.create(release.imageRef, {
        name: `${app.name}-run-${randomBytes(4).toString('hex')}`,
        labels: { [LABELS.app]: app.name, 'paas.release': `v${release.version}`, 'paas.process': 'run' },
        network: 'bridge',
        restart: 'no',
        run: {
          cmd,
          env: Object.entries(environment).map(([k, v]) => `${k}=${v}`),
          binds: [],
          resources: { memory: RUN_MEMORY_BYTES, pidsLimit: TENANT_PIDS_LIMIT },
        },
      });
    } catch (err) {
      if (err instanceof ImageNotFoundError) {
        throw ApiError.unprocessable(`the image of v${release.version} (${release.imageRef}) is not on this node`);
      }
      throw err;
    }
    await logAppEvent(this.redis, app.id, `Starting process with command \`${cmd.join(' ')}\` by ${token.name}`);
    let trailer: string;
    try {
      trailer = await this.stream(record, res);
    } finally {
      await this.engine.remove(record, { force: true, volumes: true });
    }
    // Last, so a client that read the status knows the container is gone too.
    if (!res.destroyed) res.end(trailer);
  }

  /** Starts the container and streams its output; returns the closing `paas-exit-status` line. */
  private async stream(record: ContainerRecord, res: ServerResponse): Promise<string> {
    const begin = (): void => {
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
      res.flushHeaders();
    };
    try {
      await this.engine.start(record);
    } catch (err) {
      // A command that cannot run is the command's failure, answered as `docker run` does: 126/127.
      if (!(err instanceof EngineError) || err.exitCode === 125) throw err;
      begin();
      return `${err.message}\npaas-exit-status: ${err.exitCode}\n`;
    }
    begin();
    let running = true;
    res.once('close', () => {
      if (running) void this.engine.stop(record, 0).catch(() => undefined);
    });
    const exit = this.engine.wait(record);
    let atLineStart = true;
    for await (const line of readLogs(this.engine.logPath(record), { follow: true, until: exit })) {
      if (!res.destroyed) res.write(line.newline ? `${line.text}\n` : line.text);
      atLineStart = line.newline || line.text === '';
    }
    const exitCode = (await exit)?.exitCode ?? 255;
    running = false;
    return `${atLineStart ? '' : '\n'}paas-exit-status: ${exitCode}\n`;
  }
}
