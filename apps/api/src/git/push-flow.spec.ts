import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { suiteRedis } from '@paas/platform/testing';
import type { JobState } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type BuildJob,
  type PushRecord,
  releaseAppPushLock,
  renewAppPushLock,
  takeAppPushLock,
} from '../builds-queue/platform-build';
import type { DeployOutcome, WaitLiveOptions } from '../scheduler/deploys.service';
import type { CommandResult, PushCommand } from './proc-receive';
import { waitFor } from '../testing/wait';
import {
  type AppPushLocks,
  type BuildLogEntry,
  LOCK_RETRY_MS,
  type PushRoles,
  PushFlow,
  QUEUED_NOTICE_MS,
  WATCH_INTERVAL_MS,
} from './push-flow';

const ZERO = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const REPO = '/git/web.git';
const APP = { id: 'app-1', name: 'web' };

/** Lets every promise that can move on do so. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A clock whose time moves only when the spec says so. */
class FakeClock {
  private at = 0;
  private sleepers: { until: number; wake: () => void }[] = [];
  now(): number {
    return this.at;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = { until: this.at + ms, wake: resolve };
      this.sleepers.push(sleeper);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  async advance(ms: number): Promise<void> {
    this.at += ms;
    const due = this.sleepers.filter((s) => s.until <= this.at);
    this.sleepers = this.sleepers.filter((s) => s.until > this.at);
    for (const sleeper of due) sleeper.wake();
    await settle();
  }
}

/** A build's log: lines the spec writes, read by the push as they come. */
class FakeLog {
  private readonly entries: BuildLogEntry[] = [];
  private wake: (() => void) | undefined;
  write(entry: BuildLogEntry): void {
    this.entries.push(entry);
    this.wake?.();
  }
  async *follow(signal: AbortSignal): AsyncGenerator<BuildLogEntry> {
    const onAbort = (): void => this.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (let next = 0; !signal.aborted;) {
        const entry = this.entries[next];
        if (entry) {
          next++;
          yield entry;
          if (entry.end !== undefined) return;
          continue;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * Roles as one api process sees them: once it is dead, whatever it asks never answers (the
 * clock is the world's, not the process's).
 */
function mortal(roles: PushRoles, dead: () => boolean): PushRoles {
  const wrap = (value: unknown): unknown => {
    if (typeof value === 'function') {
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => (dead() ? new Promise(() => undefined) : fn(...args));
    }
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wrap(v)]));
    return value;
  };
  return { ...(wrap({ ...roles, clock: undefined }) as PushRoles), clock: roles.clock };
}

/** A push's lease in these fakes: how long it lasts unrenewed. */
const LEASE_MS = 10 * WATCH_INTERVAL_MS;

/** The platform around one push flow, as small fakes, with what happened in order. */
function platform() {
  const journal: string[] = [];
  const refs = new Map<string, string>([['refs/heads/main', A]]);
  const commits = new Set([A, B, C]);
  const logs = new Map<string, FakeLog>();
  const jobStates = new Map<string, JobState | 'unknown'>();
  const releases = new Map<string, string>();
  const deploys = new Map<string, (outcome: DeployOutcome) => void>();
  const lost: string[] = [];
  const clock = new FakeClock();
  const jobs = new Map<string, BuildJob>();
  const buildStatus = new Map<string, string>();
  const releaseStatus = new Map<string, string>();
  const pushes = new Map<string, PushRecord>();
  const leases = new Map<string, number>();
  /** Each app's push lock as Redis keeps it: its holder, and when it expires unless renewed. */
  const locks = new Map<string, { holder: string; until: number }>();
  const heldBy = (appId: string): string | undefined => {
    const lock = locks.get(appId);
    return lock && lock.until > clock.now() ? lock.holder : undefined;
  };
  let builds = 0;
  /** `commit:path` -> the file's text in that commit. */
  const files = new Map<string, string>();
  /** `parentId branch` -> its review app. */
  const reviewApps = new Map<string, { id: string; name: string; parentId: string }>();
  let refuseReviews: string | undefined;
  /** Branches whose next create answers the review app a racing push made just before. */
  const racing = new Set<string>();
  /** Review apps a release of went live some other way (a racing push). */
  const releasedElsewhere = new Set<string>();
  const logOf = (buildId: string): FakeLog => {
    let log = logs.get(buildId);
    if (!log) logs.set(buildId, (log = new FakeLog()));
    return log;
  };
  const roles: PushRoles = {
    queue: {
      enqueue: async (job) => {
        journal.push(`enqueue ${job.buildId} ${job.commit.slice(0, 1)} by ${job.createdBy}`);
        jobStates.set(job.buildId, 'waiting');
        jobs.set(job.buildId, job);
      },
      state: async (buildId) => jobStates.get(buildId) ?? 'unknown',
    },
    builds: {
      create: async () => {
        builds++;
        return { id: `b${builds}`, number: builds };
      },
      releaseOf: async (buildId) => releases.get(buildId) ?? null,
      status: async (buildId) => buildStatus.get(buildId) ?? 'pending',
      failLost: async (buildId, reason) => {
        lost.push(buildId);
        logOf(buildId).write({ line: ` !     ${reason}` });
        logOf(buildId).write({ line: '', end: 'failed' });
      },
      abandon: async (buildId, reason) => {
        const release = releases.get(buildId);
        if (release && releaseStatus.get(release) === 'live') return 'live';
        journal.push(`stop ${buildId}${release ? ` and ${release}` : ''}`);
        if (release && releaseStatus.get(release) === 'deploying') releaseStatus.set(release, 'failed');
        if (buildStatus.get(buildId) !== 'succeeded' && buildStatus.get(buildId) !== 'failed') {
          buildStatus.set(buildId, 'failed');
          logOf(buildId).write({ line: ` !     ${reason}` });
          logOf(buildId).write({ line: '', end: 'failed' });
        }
        return 'stopped';
      },
    },
    pushes: {
      open: async (push) => {
        pushes.set(push.buildId, push);
        leases.set(push.buildId, clock.now() + LEASE_MS);
      },
      renew: async (push) => {
        pushes.set(push.buildId, push);
        leases.set(push.buildId, clock.now() + LEASE_MS);
      },
      close: async (buildId) => {
        pushes.delete(buildId);
        leases.delete(buildId);
      },
      abandoned: async () => [...pushes.values()].filter((push) => (leases.get(push.buildId) ?? 0) <= clock.now()),
    },
    locks: {
      take: async (appId, holder) => {
        if (heldBy(appId) !== undefined) return false;
        locks.set(appId, { holder, until: clock.now() + LEASE_MS });
        return true;
      },
      renew: async (appId, holder) => {
        if ((heldBy(appId) ?? holder) !== holder) return false;
        locks.set(appId, { holder, until: clock.now() + LEASE_MS });
        return true;
      },
      release: async (appId, holder) => {
        if (heldBy(appId) === holder) locks.delete(appId);
      },
    },
    log: { follow: (buildId, signal) => logOf(buildId).follow(signal) },
    deploys: {
      waitLive: (releaseId: string, options: WaitLiveOptions) => {
        journal.push(`wait ${releaseId}`);
        options.onLine?.('web.1 starting');
        return new Promise<DeployOutcome>((resolve) => {
          deploys.set(releaseId, resolve);
          options.signal?.addEventListener('abort', () => resolve({ status: 'timeout', version: 0 }), { once: true });
        });
      },
    },
    branches: {
      resolve: async (_repo, ref) => refs.get(ref) ?? null,
      objectType: async (_repo, id) => (commits.has(id) ? 'commit' : 'missing'),
      move: async (_repo, command, message) => {
        if (refs.get(command.ref) !== (command.oldId === ZERO ? undefined : command.oldId))
          throw new Error('ref moved');
        refs.set(command.ref, command.newId);
        journal.push(`move ${command.ref} ${command.newId.slice(0, 1)} (${message})`);
      },
      file: async (_repo, commit, path) => files.get(`${commit}:${path}`) ?? null,
    },
    reviews: {
      find: async (parent, branch) => reviewApps.get(`${parent.id} ${branch}`) ?? null,
      create: async (parent, branch, environment, by) => {
        if (refuseReviews) throw new Error(refuseReviews);
        const review = { id: `review-${branch}`, name: `${parent.name}--${branch}`, parentId: parent.id };
        const raced = reviewApps.get(`${parent.id} ${branch}`);
        if (raced) return { app: raced, made: false };
        reviewApps.set(`${parent.id} ${branch}`, review);
        if (racing.delete(branch)) return { app: review, made: false };
        journal.push(`create ${review.name} by ${by.name} ${JSON.stringify(environment)}`);
        return { app: review, made: true };
      },
      released: async (review) =>
        releasedElsewhere.has(review.id) ||
        [...jobs.values()].some((job) => {
          const release = job.appId === review.id ? releases.get(job.buildId) : undefined;
          return release !== undefined && releaseStatus.get(release) === 'live';
        }),
      destroy: async (review, why) => {
        for (const [key, app] of reviewApps) if (app.id === review.id) reviewApps.delete(key);
        journal.push(`destroy ${review.name}: ${why}`);
      },
    },
    clock,
    url: (app) => `http://${app}.test`,
  };
  return {
    roles,
    journal,
    refs,
    files,
    reviewApps,
    /** Review apps cannot be made from now on, for this reason. */
    refuseReviews: (why: string) => void (refuseReviews = why),
    /** A push of `branch` makes its review app between this push's look and its create. */
    raceReview: (branch: string) => void racing.add(branch),
    /** A release of the review app went live by another push. */
    releasedElsewhere,
    clock,
    lost,
    jobStates,
    jobs,
    pushes,
    buildStatus,
    releaseStatus,
    /** Who holds the app's push lock, if anyone. */
    heldBy,
    /** One api process: its roles, and its death (kill -9). */
    api: () => {
      let dead = false;
      return { roles: mortal(roles, () => dead), kill: () => void (dead = true) };
    },
    /** The build worker's side: a line, and the end of build `buildId` (its release, if it made one). */
    line: (buildId: string, line: string) => logOf(buildId).write({ line }),
    finish: (buildId: string, status: 'succeeded' | 'failed', releaseId?: string) => {
      buildStatus.set(buildId, status);
      if (releaseId) releases.set(buildId, releaseId);
      if (releaseId) releaseStatus.set(releaseId, 'deploying');
      jobStates.set(buildId, status === 'succeeded' ? 'completed' : 'failed');
      logOf(buildId).write({ line: '', end: status });
    },
    /** The build worker's side: past its commit point, release `releaseId` is deploying. */
    releaseMade: (buildId: string, releaseId: string) => {
      releases.set(buildId, releaseId);
      releaseStatus.set(releaseId, 'deploying');
    },
    /** The scheduler's side: how release `releaseId`'s deploy ended. */
    deployed: async (releaseId: string, outcome: DeployOutcome) => {
      await settle();
      // a wait that timed out leaves the release as it was
      if (outcome.status !== 'timeout') releaseStatus.set(releaseId, outcome.status);
      const resolve = deploys.get(releaseId);
      assert.ok(resolve, `nobody waits for ${releaseId}`);
      resolve(outcome);
      await settle();
    },
  };
}

function pusher() {
  const lines: string[] = [];
  return { lines, progress: { line: (text: string) => void lines.push(text) } };
}

const main = (oldId: string, newId: string): PushCommand => ({ oldId, newId, ref: 'refs/heads/main' });

/** Alice pushes B onto main (at A), the only push of its flow; once it follows its build. */
async function pushB(p: ReturnType<typeof platform>) {
  const out = pusher();
  const pushed = new PushFlow(p.roles).receive(APP, REPO, [main(A, B)], out.progress, { name: 'alice' });
  await settle();
  return { out, pushed };
}

describe('push flow', { timeout: 20_000 }, () => {
  it('moves the branch only once the release is live', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const out = pusher();
    const pushed = flow.receive(APP, REPO, [main(A, B)], out.progress, { name: 'alice' });
    await settle();
    p.line('b1', '-----> Building web from main');
    p.finish('b1', 'succeeded', 'r2');
    await settle();
    assert.equal(p.refs.get('refs/heads/main'), A, 'built, not live yet: the branch stays');
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.deepEqual(await pushed, [{ status: 'ok' }]);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'wait r2', 'move refs/heads/main b (paas: build 1)']);
    assert.deepEqual(out.lines, [
      '-----> Building web from main',
      '-----> Launching...',
      '       web.1 starting',
      '       Released v2: http://web.test deployed',
    ]);
  });

  it('a failed build rejects the push and leaves the branch', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.line('b1', ' !     RUN npm ci: exit code 1');
    p.finish('b1', 'failed');
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'stop b1'], 'settled, and nothing waited for a deploy');
    assert.deepEqual(out.lines, [' !     RUN npm ci: exit code 1']);
  });

  it('a build said failed whose worker went on to make a release deploying: that release is failed', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    // the queue lost the job (a Redis that lost it), so the push fails the build; its worker
    // went on meanwhile and made its release deploying
    p.jobStates.set('b1', 'unknown');
    await p.clock.advance(WATCH_INTERVAL_MS);
    p.releaseMade('b1', 'r2');
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.releaseStatus.get('r2'), 'failed', 'it cannot go live behind the branch');
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'stop b1 and r2']);
    assert.equal(out.lines.at(-1), ' !     The build job failed without finishing the build (its worker was lost)');
  });

  it('a build said failed whose release went live all the same: the branch follows it', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.jobStates.set('b1', 'unknown');
    await p.clock.advance(WATCH_INTERVAL_MS);
    p.releaseMade('b1', 'r2');
    p.releaseStatus.set('r2', 'live');
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(await pushed, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), B);
    assert.equal(out.lines.at(-1), '       Its release went live meanwhile: main follows it');
  });

  it('a deploy that fails rejects the push and leaves the branch', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'failed', version: 2, reason: 'web.1 failed its startup check' });
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'deploy failed' }]);
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.deepEqual(out.lines.slice(-2), [
      ' !     v2 did not start: web.1 failed its startup check',
      ' !     The previous release keeps serving.',
    ]);
  });

  it('a build whose worker was lost is settled, and the push rejected', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.line('b1', '-----> Building web from main');
    // the queue gave up on the job; its log never ended
    p.jobStates.set('b1', 'failed');
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(p.lost, [], 'one sighting is not enough: the pipeline ends its log before its job fails');
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(p.lost, ['b1']);
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.equal(out.lines.at(-1), ' !     The build job failed without finishing the build (its worker was lost)');
  });

  it("a build whose log's end was lost (a Redis restarted) is taken from its row: the push goes on", async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.line('b1', '-----> Building web from main');
    // the worker wrote its row and its release; the log's end, written after, was lost
    p.buildStatus.set('b1', 'succeeded');
    p.releaseMade('b1', 'r2');
    p.jobStates.set('b1', 'completed');
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice'], 'one look is not enough: the end may be on its way');
    await p.clock.advance(WATCH_INTERVAL_MS);
    await settle();
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.deepEqual(await pushed, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), B);
    assert.ok(
      out.lines.includes(" !     The rest of this build's log was lost (Redis restarted): the build succeeded"),
    );
  });

  it("a failed build whose log's end was lost rejects the push", async () => {
    const p = platform();
    const { pushed } = await pushB(p);
    p.buildStatus.set('b1', 'failed');
    p.jobStates.set('b1', 'completed');
    await p.clock.advance(WATCH_INTERVAL_MS);
    await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.refs.get('refs/heads/main'), A);
  });

  it('says when a build waits for a worker', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    for (let t = 0; t <= QUEUED_NOTICE_MS; t += WATCH_INTERVAL_MS) await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(out.lines, ['-----> Waiting for a build worker…']);
    p.finish('b1', 'failed');
    await pushed;
  });

  it('takes two pushes to one app one after the other', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const first = pusher();
    const second = pusher();
    const one = flow.receive(APP, REPO, [main(A, B)], first.progress, { name: 'alice' });
    await settle();
    const two = flow.receive(APP, REPO, [main(B, C)], second.progress, { name: 'bob' });
    // a push to another app does not wait
    const other = flow.receive({ id: 'app-2', name: 'api' }, '/git/api.git', [main(A, C)], pusher().progress, {
      name: 'carol',
    });
    await settle();
    assert.deepEqual(second.lines, ['-----> Waiting for another push to web to finish']);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'enqueue b2 c by carol']);
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.deepEqual(await one, [{ status: 'ok' }]);
    assert.equal(p.heldBy(APP.id), undefined, 'the first let the app go');
    await p.clock.advance(LOCK_RETRY_MS);
    // the second starts from the branch the first moved
    assert.equal(p.journal.at(-1), 'enqueue b3 c by bob');
    p.finish('b3', 'succeeded', 'r3');
    await p.deployed('r3', { status: 'live', version: 3 });
    assert.deepEqual(await two, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), C);
    p.finish('b2', 'failed');
    await other;
  });

  it('rejects a push whose branch moved while it waited', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const one = flow.receive(APP, REPO, [main(A, B)], pusher().progress, { name: 'alice' });
    await settle();
    const two = flow.receive(APP, REPO, [main(A, C)], pusher().progress, { name: 'bob' });
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'live', version: 2 });
    await one;
    await p.clock.advance(LOCK_RETRY_MS);
    assert.deepEqual(await two, [{ status: 'ng', reason: 'fetch first: the branch moved while this push waited' }]);
    assert.equal(p.refs.get('refs/heads/main'), B);
  });

  it('holds the app while it pushes, renewing its lock, and lets it go when it answers', async () => {
    const p = platform();
    const { pushed } = await pushB(p);
    const holder = p.heldBy(APP.id);
    assert.ok(holder, 'the push holds the app');
    for (let t = 0; t <= 3 * LEASE_MS; t += WATCH_INTERVAL_MS) await p.clock.advance(WATCH_INTERVAL_MS);
    assert.equal(p.heldBy(APP.id), holder, 'still held long after one lease: it is renewed');
    p.finish('b1', 'failed');
    await pushed;
    assert.equal(p.heldBy(APP.id), undefined);
  });

  it('answers a push waiting for the app when the api stops', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const one = flow.receive(APP, REPO, [main(A, B)], pusher().progress, { name: 'alice' });
    await settle();
    const two = flow.receive(APP, REPO, [main(A, C)], pusher().progress, { name: 'bob' });
    await settle();
    flow.close();
    assert.deepEqual(await two, [{ status: 'ng', reason: 'api stopping' }]);
    await one;
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'stop b1'], 'the waiting push built nothing');
    assert.equal(p.heldBy(APP.id), undefined);
  });

  it('answers waiting pushes when the api stops', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const building = pusher();
    const launching = pusher();
    const pushes = [
      flow.receive(APP, REPO, [main(A, B)], building.progress, { name: 'alice' }),
      flow.receive({ id: 'app-2', name: 'api' }, '/git/api.git', [main(A, C)], launching.progress, { name: 'bob' }),
    ];
    await settle();
    p.finish('b2', 'succeeded', 'r9');
    await settle();
    assert.deepEqual(p.journal.at(-1), 'wait r9');
    flow.close();
    const results: CommandResult[][] = await Promise.all(pushes);
    assert.deepEqual(results, [[{ status: 'ng', reason: 'api stopping' }], [{ status: 'ng', reason: 'api stopping' }]]);
    assert.equal(
      building.lines.at(-1),
      ' !     The api is stopping: this push ends here and deploys nothing; push again',
    );
    assert.equal(p.refs.get('refs/heads/main'), A);
  });

  it('deploys one of main and master, and never deletes them; tags go through', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const pushed = flow.receive(
      APP,
      REPO,
      [
        { oldId: ZERO, newId: B, ref: 'refs/tags/v1' },
        main(A, ZERO),
        main(A, B),
        { oldId: ZERO, newId: C, ref: 'refs/heads/master' },
      ],
      pusher().progress,
      { name: 'alice' },
    );
    await settle();
    p.finish('b1', 'failed');
    assert.deepEqual(await pushed, [
      { status: 'fall-through' },
      { status: 'ng', reason: 'deleting main is not allowed: it is the branch paas deploys' },
      { status: 'ng', reason: 'build failed' },
      { status: 'ng', reason: 'push one of main and master at a time (main is deploying)' },
    ]);
  });
});

describe('a push across deaths of its api', { timeout: 20_000 }, () => {
  /** Api one takes Alice's push of B onto main (at A) and follows its build. */
  async function pushOnOne(p: ReturnType<typeof platform>) {
    const one = p.api();
    const out = pusher();
    void new PushFlow(one.roles).receive(APP, REPO, [main(A, B)], out.progress, { name: 'alice' });
    await settle();
    return { one, out };
  }

  /** Api one is killed; the lease of its push runs out; api two settles what it left. */
  async function dieAndRecover(p: ReturnType<typeof platform>, one: { kill(): void }): Promise<string[]> {
    one.kill();
    const two = new PushFlow(p.api().roles);
    assert.deepEqual(await two.recover(), [], 'a push whose lease holds is left alone');
    for (let t = 0; t <= LEASE_MS; t += WATCH_INTERVAL_MS) await p.clock.advance(WATCH_INTERVAL_MS);
    return two.recover();
  }

  it('its build carries the branch it starts from, and its lease is renewed while it waits', async () => {
    const p = platform();
    await pushOnOne(p);
    assert.equal(p.jobs.get('b1')?.oldId, A);
    assert.deepEqual(p.pushes.get('b1'), { buildId: 'b1', appId: APP.id, repo: REPO, ...main(A, B) });
    for (let t = 0; t <= 3 * LEASE_MS; t += WATCH_INTERVAL_MS) await p.clock.advance(WATCH_INTERVAL_MS);
    assert.deepEqual(await new PushFlow(p.roles).recover(), [], 'alive: not abandoned');
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.equal(p.pushes.size, 0, 'answered: the push is forgotten');
  });

  it('dies before its build ran: the build is stopped and the branch stays', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    assert.deepEqual(await dieAndRecover(p, one), [`${REPO}: build of bbbbbbb stopped, main unmoved`]);
    assert.equal(p.buildStatus.get('b1'), 'failed');
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.equal(p.pushes.size, 0);
    assert.deepEqual(await new PushFlow(p.roles).recover(), [], 'settled once');
  });

  it('dies during its build: the build is stopped and the branch stays', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    p.line('b1', '-----> Building web from main');
    await settle();
    await dieAndRecover(p, one);
    assert.equal(p.buildStatus.get('b1'), 'failed');
    assert.equal(p.refs.get('refs/heads/main'), A);
  });

  it('dies during its deploy: the release is failed before it goes live, and the branch stays', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    p.finish('b1', 'succeeded', 'r2');
    await settle();
    assert.equal(p.journal.at(-1), 'wait r2');
    await dieAndRecover(p, one);
    assert.equal(p.releaseStatus.get('r2'), 'failed');
    assert.equal(p.refs.get('refs/heads/main'), A);
  });

  it('dies after its release went live: the branch follows the live release', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    p.finish('b1', 'succeeded', 'r2');
    await settle();
    one.kill(); // the scheduler made it live, the api was gone before it moved the branch
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.deepEqual(await dieAndRecover(p, one), [`${REPO}: main moved to bbbbbbb, whose release went live`]);
    assert.equal(p.releaseStatus.get('r2'), 'live');
    assert.equal(p.refs.get('refs/heads/main'), B);
  });

  it('a push through another api waits until the lock of the dead push expired', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    one.kill();
    const out = pusher();
    const again = new PushFlow(p.api().roles).receive(APP, REPO, [main(A, C)], out.progress, { name: 'bob' });
    await settle();
    assert.deepEqual(out.lines, ['-----> Waiting for another push to web to finish']);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice']);
    for (let t = 0; t <= LEASE_MS; t += LOCK_RETRY_MS) await p.clock.advance(LOCK_RETRY_MS);
    assert.equal(p.journal.at(-1), 'enqueue b2 c by bob');
    p.finish('b2', 'succeeded', 'r3');
    await p.deployed('r3', { status: 'live', version: 3 });
    assert.deepEqual(await again, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), C);
  });

  it('a push that took the app before the dead push was settled keeps the branch it moved', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    p.finish('b1', 'succeeded', 'r2');
    await settle();
    one.kill(); // its release goes live; the api was gone before it moved the branch
    await p.deployed('r2', { status: 'live', version: 2 });
    const two = new PushFlow(p.api().roles);
    // Bob, who fetched nothing since, pushes C onto main (at A) through the other api
    const bobs = two.receive(APP, REPO, [main(A, C)], pusher().progress, { name: 'bob' });
    for (let t = 0; t <= LEASE_MS; t += LOCK_RETRY_MS) await p.clock.advance(LOCK_RETRY_MS);
    assert.equal(p.journal.at(-1), 'enqueue b2 c by bob', "the dead push's lock expired: Bob's push took the app");
    assert.deepEqual(await two.recover(), [], 'the dead push waits while the app is taken');
    p.finish('b2', 'succeeded', 'r3');
    await p.deployed('r3', { status: 'live', version: 3 });
    assert.deepEqual(await bobs, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), C);
    assert.deepEqual(await two.recover(), [`${REPO}: main not moved to bbbbbbb: ref moved`]);
    assert.equal(p.refs.get('refs/heads/main'), C, 'main is where the live release came from');
    assert.equal(p.pushes.size, 0, 'settled');
  });

  it('a push of the same commit after the death goes live', async () => {
    const p = platform();
    const { one } = await pushOnOne(p);
    await dieAndRecover(p, one);
    const again = new PushFlow(p.api().roles).receive(APP, REPO, [main(A, B)], pusher().progress, { name: 'alice' });
    await settle();
    p.finish('b2', 'succeeded', 'r3');
    await p.deployed('r3', { status: 'live', version: 3 });
    assert.deepEqual(await again, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), B);
  });

  it('a release not live in time is failed, so it cannot go live behind the branch later', async () => {
    const p = platform();
    const { out, pushed } = await pushB(p);
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'timeout', version: 2 });
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'deploy timed out' }]);
    assert.equal(p.releaseStatus.get('r2'), 'failed');
    assert.equal(p.refs.get('refs/heads/main'), A);
    assert.equal(out.lines.at(-1), ' !     v2 was not live in time; see paas logs');
  });

  it('an api that stops as its release goes live moves the branch to it', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const pushed = flow.receive(APP, REPO, [main(A, B)], pusher().progress, { name: 'alice' });
    await settle();
    p.finish('b1', 'succeeded', 'r2');
    await settle();
    p.releaseStatus.set('r2', 'live'); // the scheduler's word, a moment before the api stops
    flow.close();
    assert.deepEqual(await pushed, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), B);
  });

  it('an api that stops (not killed) stops its build before answering', async () => {
    const p = platform();
    const flow = new PushFlow(p.roles);
    const pushed = flow.receive(APP, REPO, [main(A, B)], pusher().progress, { name: 'alice' });
    await settle();
    flow.close();
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'api stopping' }]);
    assert.equal(p.buildStatus.get('b1'), 'failed');
    assert.equal(p.pushes.size, 0);
  });
});

describe('pushes to one app through two apis, on one redis-server', { timeout: 20_000 }, () => {
  const client = suiteRedis('paas-push-flow-');
  let redis: Redis;
  before(() => {
    redis = client();
  });

  it('the second push starts only after the first answered', async () => {
    const p = platform();
    const locks: AppPushLocks = {
      take: (appId, holder) => takeAppPushLock(redis, appId, holder),
      renew: (appId, holder) => renewAppPushLock(redis, appId, holder),
      release: (appId, holder) => releaseAppPushLock(redis, appId, holder),
    };
    const one = new PushFlow({ ...p.roles, locks });
    const two = new PushFlow({ ...p.roles, locks });
    const first = pusher();
    const second = pusher();
    const pushedOne = one.receive(APP, REPO, [main(A, B)], first.progress, { name: 'alice' });
    await waitFor(async () => p.journal.length > 0, 'the first push builds');
    const pushedTwo = two.receive(APP, REPO, [main(B, C)], second.progress, { name: 'bob' });
    await waitFor(async () => second.lines.length > 0, 'the second push says it waits');
    assert.deepEqual(second.lines, ['-----> Waiting for another push to web to finish']);
    // the second tries again and again while the first builds and deploys
    for (let tries = 0; tries < 5; tries++) {
      await p.clock.advance(LOCK_RETRY_MS);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    p.finish('b1', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.deepEqual(await pushedOne, [{ status: 'ok' }]);
    assert.deepEqual(p.journal, ['enqueue b1 b by alice', 'wait r2', 'move refs/heads/main b (paas: build 1)']);
    await waitFor(async () => {
      await p.clock.advance(LOCK_RETRY_MS);
      return p.journal.length > 3;
    }, 'the second push builds once the first answered');
    assert.equal(p.journal.at(-1), 'enqueue b2 c by bob');
    p.finish('b2', 'succeeded', 'r3');
    await p.deployed('r3', { status: 'live', version: 3 });
    assert.deepEqual(await pushedTwo, [{ status: 'ok' }]);
    assert.equal(p.refs.get('refs/heads/main'), C);
  });
});

describe('push flow of other branches: review apps', { timeout: 20_000 }, () => {
  const branch = (name: string, oldId: string, newId: string): PushCommand => ({
    oldId,
    newId,
    ref: `refs/heads/${name}`,
  });

  it("a branch's first push makes its review app from app.json and deploys the commit there", async () => {
    const p = platform();
    p.files.set(`${B}:app.json`, JSON.stringify({ environments: { review: { env: { MODE: 'review' } } } }));
    const out = pusher();
    const pushed = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    await settle();
    p.finish('b1', 'succeeded', 'r1');
    await p.deployed('r1', { status: 'live', version: 1 });
    assert.deepEqual(await pushed, [{ status: 'ok' }]);
    assert.equal(p.jobs.get('b1')?.app, 'web--feature-x', 'built as the review app');
    assert.equal(p.jobs.get('b1')?.repo, REPO, "from the parent's repository");
    assert.deepEqual(p.journal, [
      'create web--feature-x by alice {"addons":[],"env":{"MODE":"review"}}',
      'enqueue b1 b by alice',
      'wait r1',
      'move refs/heads/feature-x b (paas: build 1)',
    ]);
    assert.ok(out.lines.includes('       Released v1: http://web--feature-x.test deployed'), out.lines.join('\n'));
    assert.equal(p.refs.get('refs/heads/main'), A, 'the parent is unchanged');

    // the next push of the branch updates the same review app: no new one, app.json not read again
    p.files.set(`${C}:app.json`, '{ not json');
    const again = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', B, C)], pusher().progress, {
      name: 'bob',
    });
    await settle();
    p.finish('b2', 'succeeded', 'r2');
    await p.deployed('r2', { status: 'live', version: 2 });
    assert.deepEqual(await again, [{ status: 'ok' }]);
    assert.equal(p.jobs.get('b2')?.appId, 'review-feature-x');
    assert.equal(p.journal.filter((line) => line.startsWith('create')).length, 1);
    assert.equal(p.refs.get('refs/heads/feature-x'), C);
  });

  it('a malformed review environment refuses the push, naming the field, and makes nothing', async () => {
    const p = platform();
    p.files.set(`${B}:app.json`, JSON.stringify({ environments: { review: { addons: ['heroku-kafka'] } } }));
    const out = pusher();
    const results = await new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    assert.equal(results[0]?.status, 'ng');
    assert.match(
      out.lines.join('\n'),
      /app\.json environments\.review\.addons\[0\]: unknown add-on plan "heroku-kafka"/,
    );
    assert.deepEqual(p.journal, [], 'no review app, no build');
    assert.equal(p.reviewApps.size, 0);
  });

  it('a review app whose first push releases nothing is removed again; one that released before stays', async () => {
    const p = platform();
    const out = pusher();
    const first = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    await settle();
    p.finish('b1', 'failed');
    assert.deepEqual(await first, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.reviewApps.size, 0, 'nothing half-made is left');
    assert.ok(p.journal.includes('destroy web--feature-x: the first push of feature-x did not release'));
    assert.ok(out.lines.includes('       The review app web--feature-x was removed: its first push released nothing'));

    const second = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], pusher().progress, {
      name: 'alice',
    });
    await settle();
    p.finish('b2', 'succeeded', 'r1');
    await p.deployed('r1', { status: 'live', version: 1 });
    assert.deepEqual(await second, [{ status: 'ok' }]);
    const third = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', B, C)], pusher().progress, {
      name: 'alice',
    });
    await settle();
    p.finish('b3', 'failed');
    assert.deepEqual(await third, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.reviewApps.size, 1, 'the review app keeps its release');
    assert.equal(p.refs.get('refs/heads/feature-x'), B);
  });

  it('a first push that lost the race to make its review app never removes it', async () => {
    const p = platform();
    p.raceReview('feature-x');
    const out = pusher();
    const pushed = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    await settle();
    p.finish('b1', 'failed');
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'build failed' }]);
    assert.equal(p.reviewApps.size, 1, "the racing push's review app stays");
    assert.ok(!p.journal.some((line) => line.startsWith('destroy')), p.journal.join('\n'));
  });

  it('a review app this push made stays when a racing push released to it first', async () => {
    const p = platform();
    // the racing push took the new review app first, and holds it
    assert.ok(await p.roles.locks.take('review-feature-x', 'racing-push'));
    const out = pusher();
    const pushed = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    await settle();
    // it released C and moved the branch: this push, which waited, is refused
    p.releasedElsewhere.add('review-feature-x');
    p.refs.set('refs/heads/feature-x', C);
    await p.roles.locks.release('review-feature-x', 'racing-push');
    await p.clock.advance(LOCK_RETRY_MS);
    assert.deepEqual(await pushed, [{ status: 'ng', reason: 'fetch first: the branch moved while this push waited' }]);
    assert.equal(p.reviewApps.size, 1, 'the released review app stays');
    assert.ok(!p.journal.some((line) => line.startsWith('destroy')), p.journal.join('\n'));
  });

  it('a review app that cannot be made refuses the push with the reason', async () => {
    const p = platform();
    p.refuseReviews("web's name is too long for review apps (web--BRANCH)");
    const out = pusher();
    const results = await new PushFlow(p.roles).receive(APP, REPO, [branch('x', ZERO, B)], out.progress, {
      name: 'alice',
    });
    assert.deepEqual(results, [{ status: 'ng', reason: 'the review app could not be made' }]);
    assert.deepEqual(out.lines, [" !     web's name is too long for review apps (web--BRANCH)"]);
    assert.deepEqual(p.journal, []);
  });

  it("deleting the branch removes its review app and lets git delete the branch; the deploy branch's deletion stays refused", async () => {
    const p = platform();
    p.reviewApps.set(`${APP.id} feature-x`, { id: 'review-feature-x', name: 'web--feature-x', parentId: APP.id });
    const out = pusher();
    const results = await new PushFlow(p.roles).receive(
      APP,
      REPO,
      [branch('feature-x', B, ZERO), branch('other', C, ZERO), main(A, ZERO)],
      out.progress,
      { name: 'alice' },
    );
    assert.deepEqual(results, [
      { status: 'fall-through' },
      { status: 'fall-through' },
      { status: 'ng', reason: 'deleting main is not allowed: it is the branch paas deploys' },
    ]);
    assert.deepEqual(p.journal, ['destroy web--feature-x: feature-x deleted by alice']);
    assert.deepEqual(out.lines, ['-----> Destroyed review app web--feature-x with feature-x']);
    assert.equal(p.heldBy('review-feature-x'), undefined, 'its push lock was let go');
  });

  it('a push that waited for a review app removed meanwhile deploys nothing', async () => {
    const p = platform();
    p.reviewApps.set(`${APP.id} feature-x`, { id: 'review-feature-x', name: 'web--feature-x', parentId: APP.id });
    // another push holds the review app: its first push, failing
    assert.ok(await p.roles.locks.take('review-feature-x', 'first-push'));
    const out = pusher();
    const pushed = new PushFlow(p.roles).receive(APP, REPO, [branch('feature-x', ZERO, C)], out.progress, {
      name: 'bob',
    });
    await settle();
    assert.deepEqual(out.lines, ['-----> Waiting for another push to web--feature-x to finish']);
    p.reviewApps.clear();
    await p.roles.locks.release('review-feature-x', 'first-push');
    await p.clock.advance(LOCK_RETRY_MS);
    assert.deepEqual(await pushed, [
      { status: 'ng', reason: 'the review app web--feature-x was removed meanwhile: push again' },
    ]);
    assert.deepEqual(p.journal, [], 'no build');
  });

  it("a review app's own remote takes no branch; tags go through as git moves them", async () => {
    const p = platform();
    const review = { id: 'review-x', name: 'web--x', parentId: APP.id };
    const results = await new PushFlow(p.roles).receive(
      review,
      '/git/web--x.git',
      [main(ZERO, B), branch('y', ZERO, B), { oldId: ZERO, newId: B, ref: 'refs/tags/v1' }],
      pusher().progress,
      { name: 'alice' },
    );
    const refused = {
      status: 'ng',
      reason: "web--x is a review app: it follows its parent's branch; push to the parent's remote",
    };
    assert.deepEqual(results, [refused, refused, { status: 'fall-through' }]);
    assert.deepEqual(p.journal, []);
  });
});
