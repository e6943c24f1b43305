/**
 * What a push to main or master does: the pushed commit is built and released through the
 * build queue while the pusher watches the output as `remote:` lines, and the branch moves
 * only once the release is live. A failed build or release rejects the push: the branch and
 * the running release stay as they were.
 *
 * Pushes to one app are taken one at a time (in this process), so the branch a build started
 * from is still the branch it moves when it ends.
 */
import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { type App, Build, buildLogKey, followLog, git } from '@paas/platform';
import { API_CONFIG, type ApiConfig } from '../config';
import { DeploysService } from '../scheduler/deploys.service';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { BuildsQueueService } from '../builds-queue/builds-queue.service';
import { createBuild, failLostBuild } from '../builds-queue/platform-build';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { type CommandResult, isZeroId, type PushCommand, type PushProgress } from './proc-receive';
import { DEPLOY_REFS, resolveRef } from './repos';

/** How often a push looks at its job while following the build (a lost worker, a queue wait). */
const WATCH_INTERVAL_MS = 1000;
/** A build still queued after this long gets a line saying it waits for a worker. */
const QUEUED_NOTICE_MS = 3000;

const branchOf = (ref: string): string => ref.replace(/^refs\/heads\//, '');

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

@Injectable()
export class PushService implements BeforeApplicationShutdown {
  private readonly locks = new Map<string, Promise<void>>();
  /** Aborted when the api stops: pushes waiting on builds answer instead of hanging on. */
  private readonly closing = new AbortController();

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(BuildsQueueService) private readonly queue: BuildsQueueService,
    @Inject(DeploysService) private readonly deploys: DeploysService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /** The proc-receive commands of one push (see proc-receive.ts), answered in order. */
  async receive(
    app: App,
    repo: string,
    commands: readonly PushCommand[],
    progress: PushProgress,
    /** The pushing token's name: the release's createdBy. */
    pusher: string,
  ): Promise<CommandResult[]> {
    const results: CommandResult[] = [];
    let deploying: string | undefined;
    for (const command of commands) {
      const branch = branchOf(command.ref);
      if (!DEPLOY_REFS.has(command.ref)) results.push({ status: 'fall-through' });
      else if (isZeroId(command.newId)) {
        results.push({ status: 'ng', reason: `deleting ${branch} is not allowed: it is the branch paas deploys` });
      } else if (deploying !== undefined) {
        results.push({ status: 'ng', reason: `push one of main and master at a time (${deploying} is deploying)` });
      } else {
        deploying = branch;
        results.push(await this.oneAtATime(app.id, progress, () => this.deploy(app, repo, command, progress, pusher)));
      }
    }
    return results;
  }

  private async deploy(
    app: App,
    repo: string,
    command: PushCommand,
    progress: PushProgress,
    pusher: string,
  ): Promise<CommandResult> {
    const current = await resolveRef(repo, command.ref);
    if (current !== (isZeroId(command.oldId) ? null : command.oldId)) {
      return { status: 'ng', reason: 'fetch first: the branch moved while this push waited' };
    }
    const type = await git(['--git-dir', repo, 'cat-file', '-t', command.newId]).catch(() => 'missing');
    if (type !== 'commit') return { status: 'ng', reason: `${command.newId.slice(0, 7)} is a ${type}, not a commit` };

    const build = await createBuild(this.dataSource, { appId: app.id, commit: command.newId, ref: command.ref });
    await this.queue.enqueue({
      buildId: build.id,
      appId: app.id,
      app: app.name,
      commit: command.newId,
      ref: command.ref,
      repo,
      createdBy: pusher,
    });
    const status = await this.follow(build, progress);
    if (status === 'interrupted') {
      progress.line(' !     The api is stopping: this push ends here, its build goes on (paas builds:output)');
      return { status: 'ng', reason: 'api stopping' };
    }
    if (status !== 'succeeded') return { status: 'ng', reason: 'build failed' };
    const launched = await this.launch(app, build, progress);
    if (launched) return launched;
    try {
      await git([
        '--git-dir',
        repo,
        'update-ref',
        '-m',
        `paas: build ${build.number}`,
        command.ref,
        command.newId,
        command.oldId,
      ]);
      // a first push to master leaves HEAD on the unborn main: point it at what was deployed
      const head = await git(['--git-dir', repo, 'symbolic-ref', 'HEAD']).catch(() => '');
      if (head !== command.ref && (await resolveRef(repo, head || 'HEAD')) === null) {
        await git(['--git-dir', repo, 'symbolic-ref', 'HEAD', command.ref]);
      }
    } catch (err) {
      progress.line(
        ` !     The release is live, but ${branchOf(command.ref)} could not be moved: ${(err as Error).message.trim()}`,
      );
      return { status: 'ng', reason: 'released, but the branch could not be updated' };
    }
    return { status: 'ok' };
  }

  /**
   * Waits until the build's release serves (its instances passed their checks and the router
   * switched to them), showing the scheduler's lines. A release that fails to start rejects
   * the push, so the branch stays on the commit that still serves. Null when the push may go on.
   */
  private async launch(app: App, build: Build, progress: PushProgress): Promise<CommandResult | null> {
    const { releaseId } = await this.dataSource.manager.findOneByOrFail(Build, { id: build.id });
    if (!releaseId) return null;
    progress.line('-----> Launching...');
    const outcome = await this.deploys.waitLive(releaseId, {
      onLine: (line) => progress.line(`       ${line}`),
      signal: this.closing.signal,
    });
    const port = this.config.routerPort === 80 ? '' : `:${this.config.routerPort}`;
    const url = `http://${app.name}.${this.config.domain}${port}`;
    switch (outcome.status) {
      case 'live':
        progress.line(`       Released v${outcome.version}: ${url} deployed`);
        return null;
      case 'superseded':
        progress.line(`       v${outcome.version} was superseded by v${outcome.by}, which serves ${url}`);
        return null;
      case 'unscheduled':
        progress.line(`       Not started: ${outcome.reason}`);
        return null;
      case 'failed':
        progress.line(` !     v${outcome.version} did not start: ${outcome.reason}`);
        progress.line(' !     The previous release keeps serving.');
        return { status: 'ng', reason: 'deploy failed' };
      case 'timeout':
        progress.line(` !     v${outcome.version} was not live in time; see paas logs`);
        return { status: 'ng', reason: this.closing.signal.aborted ? 'api stopping' : 'deploy timed out' };
    }
  }

  /**
   * Copies the build's stream to the pusher until it ends; its final status (`interrupted`
   * when the api stops first). Meanwhile watches the job: a build whose job the queue gave up
   * on without the stream ending (its worker was lost too often) is failed here, which ends
   * the stream.
   */
  private async follow(build: Build, progress: PushProgress): Promise<string> {
    const key = buildLogKey(build.id);
    const stop = new AbortController();
    const onClosing = (): void => stop.abort();
    this.closing.signal.addEventListener('abort', onClosing, { once: true });
    let heard = false;
    const watching = this.watch(build, stop.signal, () => heard, progress);
    try {
      for await (const entry of followLog(this.redis, key, '0', stop.signal)) {
        if (entry.end !== undefined) return entry.end;
        heard = true;
        progress.line(entry.line);
      }
      return this.closing.signal.aborted ? 'interrupted' : 'failed';
    } finally {
      this.closing.signal.removeEventListener('abort', onClosing);
      stop.abort();
      await watching;
    }
  }

  private async watch(build: Build, signal: AbortSignal, heard: () => boolean, progress: PushProgress): Promise<void> {
    const started = Date.now();
    let noticed = false;
    let failedSeen = 0;
    while (!signal.aborted) {
      await sleep(WATCH_INTERVAL_MS, signal);
      if (signal.aborted) return;
      try {
        const state = await this.queue.state(build.id);
        if (
          !heard() &&
          !noticed &&
          Date.now() - started > QUEUED_NOTICE_MS &&
          (state === 'waiting' || state === 'prioritized')
        ) {
          noticed = true;
          progress.line('-----> Waiting for a build worker…');
        }
        // the pipeline ends the stream before its job fails: give it one more look first
        failedSeen = state === 'failed' || state === 'unknown' ? failedSeen + 1 : 0;
        if (failedSeen >= 2) {
          await failLostBuild(
            this.dataSource,
            this.redis,
            build.id,
            'The build job failed without finishing the build (its worker was lost)',
          );
        }
      } catch {
        // Redis or the database hiccuped: the next look may work
      }
    }
  }

  beforeApplicationShutdown(): void {
    this.closing.abort();
  }

  private async oneAtATime<T>(appId: string, progress: PushProgress, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(appId);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const chain = (before ?? Promise.resolve()).then(() => mine);
    this.locks.set(appId, chain);
    try {
      if (before) {
        progress.line('-----> Waiting for the push before this one to finish');
        await before;
      }
      return await fn();
    } finally {
      done();
      if (this.locks.get(appId) === chain) this.locks.delete(appId);
    }
  }
}
