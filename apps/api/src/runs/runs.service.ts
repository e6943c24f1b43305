import { Inject, Injectable } from '@nestjs/common';
import {
  type ConsoleSize,
  type ContainerRecord,
  type CreateOptions,
  type Engine,
  EngineError,
  dataFrames,
  readLogs,
} from '@paas/engine';
import { ImageNotFoundError } from '@paas/images';
import {
  ADDON_SERVICES,
  Addon,
  AddonAttachment,
  type ApiToken,
  type App,
  LABELS,
  type ServiceEndpoint,
  TENANT_PIDS_LIMIT,
  addonClientTarget,
  appConfig,
  appReach,
  currentRelease,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { ENGINE } from './engine.provider';
import { exitFrame } from '@paas/engine';
import { SWITCHING_PROTOCOLS, bridge } from './tty-bridge';

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
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /**
   * `heroku run`: the command in a new container of the current release (its image, its
   * config and PORT), output streamed as it comes, then `paas-exit-status: N`. The container
   * is removed afterwards, and stopped when the client goes away. It may reach the add-ons the
   * app is attached to; with `addon`, it runs in that add-on's image instead (`pg:psql`: its
   * clients, with the app's config, so `psql "$DATABASE_URL"`).
   */
  async run(
    app: App,
    command: string | string[],
    env: Record<string, string>,
    token: ApiToken,
    res: ServerResponse,
    addonName?: string,
  ): Promise<void> {
    const { record, cmd } = await this.create(app, command, env, addonName);
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

  /**
   * `heroku run` with a terminal (docs/api.md "One-off runs with a terminal"): as `run`, but the
   * command gets a terminal of `size`, and `socket` (an HTTP Upgrade the caller accepted the
   * request of) becomes the terminal: 101, then the shim's attach frames both ways (`d` typed
   * or shown bytes, `w` a resize from the client) and an `x` frame with the exit status last.
   * The container is removed when it ends, or at once when the client goes away. Failures
   * before the 101 are thrown (the caller answers them as HTTP).
   */
  async runTerminal(
    app: App,
    body: { command: string | string[]; env?: Record<string, string>; addon?: string },
    size: ConsoleSize | undefined,
    token: ApiToken,
    socket: Duplex,
    early: Buffer,
  ): Promise<void> {
    const { record, cmd } = await this.create(app, body.command, body.env ?? {}, body.addon, size ?? null);
    let exitCode: number;
    try {
      await logAppEvent(this.redis, app.id, `Starting process with command \`${cmd.join(' ')}\` by ${token.name}`);
      const started = await this.engine.startAttached(record).catch((err: unknown) => {
        // A command that cannot run is the command's failure, answered as `docker run` does: 126/127.
        if (!(err instanceof EngineError) || err.exitCode === 125) throw err;
        return err;
      });
      socket.write(SWITCHING_PROTOCOLS);
      if (started instanceof EngineError) {
        socket.write(dataFrames(Buffer.from(`${started.message}\r\n`)));
        exitCode = started.exitCode;
      } else {
        if ((await bridge(started.terminal, socket, early)) === 'gone') return; // removed below, running or not
        // the terminal's output ends when the process does, or when its shim dropped this
        // client (too slow): then the process runs on, and only the client's going ends it
        const gone = Symbol('gone');
        const closed = new Promise<typeof gone>((resolve) =>
          socket.destroyed ? resolve(gone) : socket.once('close', () => resolve(gone)),
        );
        const waited = await Promise.race([this.engine.wait(record), closed]);
        if (waited === gone) return; // removed below
        exitCode = waited?.exitCode ?? 255;
      }
    } finally {
      await this.engine.remove(record, { force: true, volumes: true });
    }
    // Last, so a client that read the status knows the container is gone too.
    if (!socket.destroyed) socket.end(exitFrame(exitCode));
  }

  /** The container of a one-off run (not started). `consoleSize`: with a terminal, of that size if known. */
  private async create(
    app: App,
    command: string | string[],
    env: Record<string, string>,
    addonName: string | undefined,
    consoleSize?: ConsoleSize | null,
  ): Promise<{ record: ContainerRecord; cmd: string[] }> {
    const { manager } = this.dataSource;
    const release = await currentRelease(manager, app.id);
    const addon = addonName === undefined ? null : await this.attachedAddon(app, addonName);
    if (!addon && !release?.imageRef)
      throw ApiError.unprocessable(`app '${app.name}' has no release with an image yet: push code first`);
    const image = addon ? ADDON_SERVICES[addon.type].image : (release?.imageRef as string);
    const cmd = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const config = release?.config ?? (await appConfig(manager, app.id));
    const environment = { ...config, PORT: RUN_PORT, ...(addon ? await this.clientEnv(addon) : {}), ...env };
    const label = addon ? addon.name : `v${release?.version ?? 0}`;
    const tty = consoleSize !== undefined;
    // the engine's CreateOptions gains `reach` with the add-ons' network rule (libs/engine)
    const options: CreateOptions & { reach: readonly ServiceEndpoint[] } = {
      name: `${app.name}-run-${randomBytes(4).toString('hex')}`,
      labels: { [LABELS.app]: app.name, 'paas.release': label, 'paas.process': 'run' },
      network: 'bridge',
      restart: 'no',
      ...(tty ? { interactive: true } : {}),
      run: {
        cmd,
        env: Object.entries(environment).map(([k, v]) => `${k}=${v}`),
        binds: [],
        resources: { memory: RUN_MEMORY_BYTES, pidsLimit: TENANT_PIDS_LIMIT },
        ...(tty ? { tty: true, ...(consoleSize ? { consoleSize } : {}) } : {}),
      },
      reach: await appReach(manager, app.id),
      // the app's range, as its instances and release commands get (an add-on's client too:
      // what runs there is typed by the app's user)
      ...(this.config.tenantUserns === 'auto' ? { userns: { mode: 'auto' as const, key: `app-${app.id}` } } : {}),
    };
    try {
      return { record: await this.engine.create(image, options), cmd };
    } catch (err) {
      if (err instanceof ImageNotFoundError) {
        throw ApiError.unprocessable(
          addon
            ? `the image of ${addon.type} add-ons (${image}) is not on this node: paas image bootstrap ${addon.type}`
            : `the image of ${label} (${image}) is not on this node`,
        );
      }
      throw err;
    }
  }

  /**
   * What the add-on's own client needs to connect, so that a command names no password (argv
   * shows in every `ps` of the node; the environment does not): `PAAS_ADDON_HOST`/`PORT`, and
   * libpq's `PG*` or redis-cli's `REDISCLI_AUTH`.
   */
  private async clientEnv(addon: Addon): Promise<Record<string, string>> {
    const target = await addonClientTarget(this.dataSource.manager, addon);
    if (!target) throw ApiError.conflict(`add-on '${addon.name}' has no node to be reached at`);
    const where = { PAAS_ADDON_HOST: target.host, PAAS_ADDON_PORT: String(target.port) };
    if (addon.type === 'redis') return { ...where, REDISCLI_AUTH: target.password };
    return {
      ...where,
      PGHOST: target.host,
      PGPORT: String(target.port),
      PGUSER: 'postgres',
      PGPASSWORD: target.password,
      PGDATABASE: 'postgres',
    };
  }

  /** The add-on named, when the app is attached to it (404 otherwise, whether or not it exists). */
  private async attachedAddon(app: App, name: string): Promise<Addon> {
    const { manager } = this.dataSource;
    const addon = await manager.findOne(Addon, { where: { name } });
    const attached = addon ? await manager.count(AddonAttachment, { where: { addonId: addon.id, appId: app.id } }) : 0;
    if (!addon || attached === 0) throw ApiError.notFound(`add-on '${name}' is not attached to app '${app.name}'`);
    return addon;
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
