/**
 * What a push to main or master does: the pushed commit is built and released through the
 * build queue while the pusher watches the output as `remote:` lines, and the branch moves
 * only once the release is live. A failed build or release rejects the push: the branch and
 * the running release stay as they were.
 *
 * Pushes to one app are taken one at a time by every api (a lock in Redis, push-lease.ts), so
 * the branch a build started from is still the branch it moves when it ends. A push that finds
 * the app taken says so and waits; the lock of a push whose api died expires with its lease.
 *
 * Across deaths (docs/architecture.md, "A push across deaths"): a push holds its build through
 * a lease it renews while it waits (push-lease.ts). The pipeline makes the release deployable
 * only while the lease holds, so a push whose api died deploys nothing: `recover` (any api, at
 * start and now and then) fails what its build left building or deploying, and the branch stays.
 * Only a release that went live before the death keeps serving, and then the branch is moved to
 * it: the pusher, cut off, may not know, but branch and live release agree either way.
 * `recover` holds the app as a push does; a push that took it first goes first.
 *
 * A push of any other branch (`git push paas feature-x`) deploys the same way to the branch's
 * review app, `APP--feature-x` (reviews/reviews.service.ts), made at the branch's first push
 * from app.json's `environments.review` at the pushed commit; a first push that made it and
 * released nothing removes it again, still holding it and only while none of its releases is
 * live (a racing push of the branch may have released to it first), so no review app is left
 * without a release (reviews.service.ts's expiry removes one whose push's api died). Deleting
 * the branch removes its review app. A review app's own remote takes no branch: it follows its
 * parent's.
 *
 * The flow works through small roles (below); push.service.ts gives it the real ones (BullMQ,
 * the build's Redis stream, DeploysService, git, ReviewsService), its spec small fakes.
 */
import { randomUUID } from 'node:crypto';
import { AppJsonError, parseReviewEnvironment, type ReviewEnvironment } from '@paas/platform/builds';
import type { JobState } from 'bullmq';
import { type BuildJob, PUSH_GONE, type PushRecord } from '../builds-queue/platform-build';
import type { DeployOutcome, WaitLiveOptions } from '../scheduler/deploys.service';
import { type CommandResult, isZeroId, type PushCommand, type PushProgress } from './proc-receive';
import { DEPLOY_REFS } from './repos';

/** How often a push looks at its job while following the build (a lost worker, a queue wait). */
export const WATCH_INTERVAL_MS = 1000;
/** A build still queued after this long gets a line saying it waits for a worker. */
export const QUEUED_NOTICE_MS = 3000;
/** How often a push waiting for another push to the same app tries to take the app. */
export const LOCK_RETRY_MS = 250;

/** Why the build of a push whose release was not live in time is stopped. */
const NOT_LIVE_IN_TIME = 'its push gave up waiting for the release to be live: nothing was deployed; push again';
/** Why the release of a build its push saw fail is stopped (the build had one all the same). */
const BUILD_FAILED = 'its build was reported failed before its release was live: nothing was deployed; push again';

export interface BuildQueue {
  enqueue(job: BuildJob): Promise<void>;
  /** `waiting`, `active`, `completed`, `failed`, … or `unknown` once the job is gone. */
  state(buildId: string): Promise<JobState | 'unknown'>;
}

/** The build rows a push makes and reads. */
export interface PushBuilds {
  create(input: {
    appId: string;
    commit: string;
    ref: string;
  }): Promise<{ readonly id: string; readonly number: number }>;
  /** The release the build made; null when it made none. */
  releaseOf(buildId: string): Promise<string | null>;
  /** The build row's status (`pending`, `building`, `succeeded`, `failed`); null when it is gone. */
  status(buildId: string): Promise<string | null>;
  /** Settles a build whose worker was lost for good (which ends its log). */
  failLost(buildId: string, reason: string): Promise<unknown>;
  /**
   * Settles the build of a push that will not move its branch: `live` when its release went
   * live already, else `stopped` (the build and a building or deploying release failed).
   */
  abandon(buildId: string, reason: string): Promise<'live' | 'stopped'>;
}

/** Pushes in flight as every api sees them, each holding its build by a lease (push-lease.ts). */
export interface PushRegistry {
  open(push: PushRecord): Promise<void>;
  /** The push still waits: its lease goes on (and its record is written again). */
  renew(push: PushRecord): Promise<void>;
  /** The push answered. */
  close(buildId: string): Promise<void>;
  /** Pushes whose lease ran out: their api died before they answered. */
  abandoned(): Promise<PushRecord[]>;
}

/**
 * Each app's push lock, shared by every api (push-lease.ts). It expires unless renewed, so a
 * holder renews it while it pushes.
 */
export interface AppPushLocks {
  /** Takes the app for `holder` when no push holds it: true when taken. */
  take(appId: string, holder: string): Promise<boolean>;
  /** Keeps holding it: false when another push holds the app by now. */
  renew(appId: string, holder: string): Promise<boolean>;
  /** Lets the app go, unless another push holds it by now. */
  release(appId: string, holder: string): Promise<unknown>;
}

/** One entry of a build's log: a line, or its end with the build's status. */
export interface BuildLogEntry {
  readonly line: string;
  readonly end?: string;
}

export interface BuildLogFollower {
  /** The build's log from its start, until it ends or `signal` aborts. */
  follow(buildId: string, signal: AbortSignal): AsyncIterable<BuildLogEntry>;
}

export interface DeployWatcher {
  waitLive(releaseId: string, options: WaitLiveOptions): Promise<DeployOutcome>;
}

/** The app's repository: its branches and objects. */
export interface Branches {
  /** The commit `ref` points at; null when it does not exist. */
  resolve(repo: string, ref: string): Promise<string | null>;
  /** `commit`, `tree`, … or `missing`. */
  objectType(repo: string, id: string): Promise<string>;
  /** Moves `ref` from `oldId` to `newId` (and an unborn HEAD to it); throws when it cannot. */
  move(repo: string, command: PushCommand, message: string): Promise<void>;
  /** The text of `path` in `commit`'s tree; null when it has none. */
  file(repo: string, commit: string, path: string): Promise<string | null>;
}

/** Who pushes: the pushing token, whose name is a release's createdBy. */
export interface Pusher {
  readonly name: string;
}

/** The review apps of an app's branches (reviews/reviews.service.ts). */
export interface ReviewApps<A extends PushedApp, P extends Pusher> {
  /** The review app of the parent's `branch`, or null. */
  find(parent: A, branch: string): Promise<A | null>;
  /**
   * Makes it, `made` true, or answers the one a racing push of the branch made, `made` false;
   * throws, saying why to the pusher, when it cannot.
   */
  create(parent: A, branch: string, environment: ReviewEnvironment, pusher: P): Promise<{ app: A; made: boolean }>;
  /** Whether a release of it is live. */
  released(review: A): Promise<boolean>;
  /** Removes it as apps:destroy does, `why` in its parent's log. */
  destroy(review: A, why: string): Promise<void>;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface PushRoles<A extends PushedApp = PushedApp, P extends Pusher = Pusher> {
  readonly queue: BuildQueue;
  readonly builds: PushBuilds;
  readonly pushes: PushRegistry;
  readonly locks: AppPushLocks;
  readonly log: BuildLogFollower;
  readonly deploys: DeployWatcher;
  readonly branches: Branches;
  readonly clock: Clock;
  readonly reviews: ReviewApps<A, P>;
  /** The app's address as the router serves it. */
  readonly url: (app: string) => string;
}

/** An app as a push knows it. */
export interface PushedApp {
  readonly id: string;
  readonly name: string;
  /** A review app's parent; null (or absent) for any other app. */
  readonly parentId?: string | null;
}

const branchOf = (ref: string): string => ref.replace(/^refs\/heads\//, '');

export class PushFlow<A extends PushedApp = PushedApp, P extends Pusher = Pusher> {
  /** Aborted when the api stops: pushes waiting on builds answer instead of hanging on. */
  private readonly closing = new AbortController();

  constructor(private readonly roles: PushRoles<A, P>) {}

  /** The proc-receive commands of one push (see proc-receive.ts), answered in order. */
  async receive(
    app: A,
    repo: string,
    commands: readonly PushCommand[],
    progress: PushProgress,
    /** The pushing token: its name is the release's createdBy. */
    pusher: P,
  ): Promise<CommandResult[]> {
    const results: CommandResult[] = [];
    let deploying: string | undefined;
    for (const command of commands) {
      const branch = branchOf(command.ref);
      if (!command.ref.startsWith('refs/heads/')) results.push({ status: 'fall-through' });
      else if (app.parentId) {
        results.push({
          status: 'ng',
          reason: `${app.name} is a review app: it follows its parent's branch; push to the parent's remote`,
        });
      } else if (!DEPLOY_REFS.has(command.ref)) results.push(await this.review(app, repo, command, progress, pusher));
      else if (isZeroId(command.newId)) {
        results.push({ status: 'ng', reason: `deleting ${branch} is not allowed: it is the branch paas deploys` });
      } else if (deploying !== undefined) {
        results.push({ status: 'ng', reason: `push one of main and master at a time (${deploying} is deploying)` });
      } else {
        deploying = branch;
        results.push(
          await this.oneAtATime(app, progress, () => this.deploy(app, repo, command, progress, pusher.name)),
        );
      }
    }
    return results;
  }

  /**
   * A push of a branch but the deploy branch: to its review app, made first when it has none;
   * the branch's deletion removes it. Refused when app.json's review environment is malformed.
   */
  private async review(
    parent: A,
    repo: string,
    command: PushCommand,
    progress: PushProgress,
    pusher: P,
  ): Promise<CommandResult> {
    const { reviews, branches } = this.roles;
    const branch = branchOf(command.ref);
    const existing = await reviews.find(parent, branch);
    if (isZeroId(command.newId)) {
      if (existing) {
        const gone = await this.oneAtATime(existing, progress, async (): Promise<CommandResult> => {
          await reviews.destroy(existing, `${branch} deleted by ${pusher.name}`);
          return { status: 'fall-through' };
        });
        if (gone.status !== 'fall-through') return gone;
        progress.line(`-----> Destroyed review app ${existing.name} with ${branch}`);
      }
      // receive-pack deletes the branch itself
      return { status: 'fall-through' };
    }
    let review = existing;
    let made = false;
    if (!review) {
      const type = await branches.objectType(repo, command.newId);
      if (type !== 'commit') return { status: 'ng', reason: `${command.newId.slice(0, 7)} is a ${type}, not a commit` };
      let environment: ReviewEnvironment;
      try {
        environment = parseReviewEnvironment(await branches.file(repo, command.newId, 'app.json'));
      } catch (err) {
        if (!(err instanceof AppJsonError)) throw err;
        progress.line(` !     ${err.message}`);
        return { status: 'ng', reason: `no review app: ${err.message}` };
      }
      try {
        ({ app: review, made } = await reviews.create(parent, branch, environment, pusher));
      } catch (err) {
        progress.line(` !     ${(err as Error).message}`);
        return { status: 'ng', reason: 'the review app could not be made' };
      }
      progress.line(`-----> Review app ${review.name} of ${parent.name} for ${branch}`);
    }
    const target = review;
    const result = await this.oneAtATime(target, progress, async () => {
      // a push that held it before this one may have removed it (its first push failed, the
      // branch was deleted, it expired): nothing to deploy to
      if ((await reviews.find(parent, branch))?.id !== target.id) {
        return { status: 'ng', reason: `the review app ${target.name} was removed meanwhile: push again` };
      }
      const result = await this.deploy(target, repo, command, progress, pusher.name);
      // made by this push, which released nothing: it goes, as if the push had not happened;
      // still holding it, and only while no release of it went live (a racing push of the
      // branch may have released to it first)
      if (made && result.status === 'ng') {
        try {
          if (!(await reviews.released(target))) {
            await reviews.destroy(target, `the first push of ${branch} did not release`);
            progress.line(`       The review app ${target.name} was removed: its first push released nothing`);
          }
        } catch (err) {
          progress.line(` !     The review app ${target.name} could not be removed: ${(err as Error).message}`);
        }
      }
      return result;
    });
    return result;
  }

  /** The api stops: waiting pushes answer now. */
  close(): void {
    this.closing.abort();
  }

  /**
   * Settles the pushes whose api died before they answered: their build and release, unless
   * the release went live, in which case their branch moves to it. What it did, a line each.
   */
  async recover(): Promise<string[]> {
    const done: string[] = [];
    for (const push of await this.roles.pushes.abandoned()) {
      // like a push, it holds the app while it may move the branch; a push that took the app
      // first goes first (a later sweep settles this one: its move, a compare-and-swap from the
      // commit the dead push started at, then fails if that push moved the branch)
      const holder = randomUUID();
      if (!(await this.roles.locks.take(push.appId, holder))) continue;
      done.push(await this.holding(push.appId, holder, () => this.settle(push)));
    }
    return done;
  }

  /** Settles one push whose api died, holding its app: what it did, in a line. */
  private async settle(push: PushRecord): Promise<string> {
    const outcome = await this.roles.builds.abandon(push.buildId, PUSH_GONE);
    const branch = branchOf(push.ref);
    let done: string;
    if (outcome === 'live') {
      try {
        await this.roles.branches.move(push.repo, push, 'paas: its release went live before its push ended');
        done = `${push.repo}: ${branch} moved to ${push.newId.slice(0, 7)}, whose release went live`;
      } catch (err) {
        done = `${push.repo}: ${branch} not moved to ${push.newId.slice(0, 7)}: ${(err as Error).message.trim()}`;
      }
    } else done = `${push.repo}: build of ${push.newId.slice(0, 7)} stopped, ${branch} unmoved`;
    await this.roles.pushes.close(push.buildId);
    return done;
  }

  private async deploy(
    app: PushedApp,
    repo: string,
    command: PushCommand,
    progress: PushProgress,
    pusher: string,
  ): Promise<CommandResult> {
    const { branches } = this.roles;
    const current = await branches.resolve(repo, command.ref);
    if (current !== (isZeroId(command.oldId) ? null : command.oldId)) {
      return { status: 'ng', reason: 'fetch first: the branch moved while this push waited' };
    }
    const type = await branches.objectType(repo, command.newId);
    if (type !== 'commit') return { status: 'ng', reason: `${command.newId.slice(0, 7)} is a ${type}, not a commit` };

    const build = await this.roles.builds.create({ appId: app.id, commit: command.newId, ref: command.ref });
    const { pushes } = this.roles;
    const record: PushRecord = { buildId: build.id, appId: app.id, repo, ...command };
    await pushes.open(record);
    const holding = new AbortController();
    const renewing = this.hold(record, holding.signal);
    // false when the push ends without knowing its build settled: its lease runs out, and
    // `recover` (here or in another api) settles it
    let answered = false;
    try {
      const result = await this.build(app, repo, command, build, progress, pusher);
      answered = true;
      return result;
    } finally {
      holding.abort();
      await renewing;
      if (answered) await pushes.close(build.id).catch(() => undefined);
    }
  }

  /** Renews the push's lease until it answers. */
  private async hold(push: PushRecord, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.roles.clock.sleep(WATCH_INTERVAL_MS, signal);
      if (signal.aborted) return;
      await this.roles.pushes.renew(push).catch(() => undefined);
    }
  }

  private async build(
    app: PushedApp,
    repo: string,
    command: PushCommand,
    build: { readonly id: string; readonly number: number },
    progress: PushProgress,
    pusher: string,
  ): Promise<CommandResult> {
    const { branches } = this.roles;
    await this.roles.queue.enqueue({
      buildId: build.id,
      appId: app.id,
      app: app.name,
      commit: command.newId,
      ref: command.ref,
      repo,
      oldId: command.oldId,
      createdBy: pusher,
    });
    const status = await this.follow(build.id, progress);
    const launched: CommandResult | null =
      status === 'succeeded'
        ? await this.launch(app, build.id, progress)
        : { status: 'ng', reason: status === 'interrupted' ? 'api stopping' : 'build failed' };
    if (launched?.status === 'ng' && launched.reason !== 'deploy failed') {
      // a push that says no must not go live later behind the branch's back: its build and
      // release stop, unless the release went live meanwhile (then the branch follows it).
      // A build said failed may have a release anyway: one whose job was lost (a Redis that
      // lost it) while its worker went on past the commit point.
      const reason = this.closing.signal.aborted
        ? PUSH_GONE
        : launched.reason === 'build failed'
          ? BUILD_FAILED
          : NOT_LIVE_IN_TIME;
      if ((await this.roles.builds.abandon(build.id, reason)) === 'stopped') {
        if (status === 'interrupted')
          progress.line(' !     The api is stopping: this push ends here and deploys nothing; push again');
        return launched;
      }
      progress.line(`       Its release went live meanwhile: ${branchOf(command.ref)} follows it`);
    } else if (launched) return launched;
    try {
      await branches.move(repo, command, `paas: build ${build.number}`);
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
  private async launch(app: PushedApp, buildId: string, progress: PushProgress): Promise<CommandResult | null> {
    const releaseId = await this.roles.builds.releaseOf(buildId);
    if (!releaseId) return null;
    progress.line('-----> Launching...');
    const outcome = await this.roles.deploys.waitLive(releaseId, {
      onLine: (line) => progress.line(`       ${line}`),
      signal: this.closing.signal,
    });
    const url = this.roles.url(app.name);
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
   * Copies the build's log to the pusher until it ends; its final status (`interrupted` when
   * the api stops first). Meanwhile watches the job: a build whose job the queue gave up on
   * without the log ending (its worker was lost too often) is failed here, which ends the log.
   */
  private async follow(buildId: string, progress: PushProgress): Promise<string> {
    const stop = new AbortController();
    const onClosing = (): void => stop.abort();
    this.closing.signal.addEventListener('abort', onClosing, { once: true });
    let heard = false;
    // set by the watch when the build's row finished but its log never ends
    let ended: string | undefined;
    const watching = this.watch(
      buildId,
      stop.signal,
      () => heard,
      progress,
      (status) => {
        ended = status;
        stop.abort();
      },
    );
    try {
      for await (const entry of this.roles.log.follow(buildId, stop.signal)) {
        if (entry.end !== undefined) return entry.end;
        heard = true;
        progress.line(entry.line);
      }
      if (ended !== undefined) return ended;
      return this.closing.signal.aborted ? 'interrupted' : 'failed';
    } finally {
      this.closing.signal.removeEventListener('abort', onClosing);
      stop.abort();
      await watching;
    }
  }

  private async watch(
    buildId: string,
    signal: AbortSignal,
    heard: () => boolean,
    progress: PushProgress,
    end: (status: string) => void,
  ): Promise<void> {
    const { clock, queue, builds } = this.roles;
    const started = clock.now();
    let noticed = false;
    let failedSeen = 0;
    let finishedSeen = 0;
    while (!signal.aborted) {
      await clock.sleep(WATCH_INTERVAL_MS, signal);
      if (signal.aborted) return;
      try {
        const state = await queue.state(buildId);
        if (
          !heard() &&
          !noticed &&
          clock.now() - started > QUEUED_NOTICE_MS &&
          (state === 'waiting' || state === 'prioritized')
        ) {
          noticed = true;
          progress.line('-----> Waiting for a build worker…');
        }
        // the pipeline ends the log before its job fails: give it one more look first
        // the row is the build's truth; its log's end is a Redis write, which a Redis killed
        // before it synced loses (as it may lose the job): the pipeline ends the log just
        // after it writes the row, so a row finished twice in a row with no end means lost
        const row = await builds.status(buildId);
        finishedSeen = row === 'succeeded' || row === 'failed' ? finishedSeen + 1 : 0;
        if (finishedSeen >= 2 && row !== null) {
          progress.line(` !     The rest of this build's log was lost (Redis restarted): the build ${row}`);
          end(row);
          return;
        }
        failedSeen = state === 'failed' || state === 'unknown' ? failedSeen + 1 : 0;
        if (failedSeen >= 2) {
          await this.roles.builds.failLost(
            buildId,
            'The build job failed without finishing the build (its worker was lost)',
          );
        }
      } catch {
        // Redis or the database hiccuped: the next look may work
      }
    }
  }

  /** Runs `fn` holding the app's push lock, waiting for the push that holds it first. */
  private async oneAtATime(
    app: PushedApp,
    progress: PushProgress,
    fn: () => Promise<CommandResult>,
  ): Promise<CommandResult> {
    const { locks, clock } = this.roles;
    const holder = randomUUID();
    let said = false;
    while (!(await locks.take(app.id, holder))) {
      if (!said) progress.line(`-----> Waiting for another push to ${app.name} to finish`);
      said = true;
      await clock.sleep(LOCK_RETRY_MS, this.closing.signal);
      if (this.closing.signal.aborted) return { status: 'ng', reason: 'api stopping' };
    }
    return this.holding(app.id, holder, fn);
  }

  /** Runs `fn` with the app's push lock, taken by `holder`: renewed meanwhile, released after. */
  private async holding<T>(appId: string, holder: string, fn: () => Promise<T>): Promise<T> {
    const holding = new AbortController();
    const renewing = this.keepLock(appId, holder, holding.signal);
    try {
      return await fn();
    } finally {
      holding.abort();
      await renewing;
      await this.roles.locks.release(appId, holder).catch(() => undefined);
    }
  }

  /** Renews the app's push lock until `signal` aborts (its holder is done with the app). */
  private async keepLock(appId: string, holder: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.roles.clock.sleep(WATCH_INTERVAL_MS, signal);
      if (signal.aborted) return;
      // false: another push took the app (this api was held up past the lock's lease); the
      // branch's move, a compare-and-swap, still keeps this push from undoing that one's
      if ((await this.roles.locks.renew(appId, holder).catch(() => true)) === false) return;
    }
  }
}
