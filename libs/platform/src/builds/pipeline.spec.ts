import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuildAbortedError, type BuildOptions, BuildError } from '@paas/builder';
import { AppBuildError } from './errors';
import { type Image, ImageNotFoundError } from '@paas/images';
import type { Digest } from '@paas/oci';
import type { DataSource } from 'typeorm';
import { transaction } from '../model/database';
import { type App, Build, Release } from '../model/entities';
import { currentRelease, liveRelease, releaseLive, releaseState } from '../release-lifecycle';
import { changeConfig } from '../releases';
import { insertApp, openTestDatabase } from '../testing/databases';
import { databaseRoles } from './build-environment';
import { createBuild } from './builds';
import { type BuildAttempt, PUSH_GONE, runPipeline } from './pipeline';
import type { BuildJob, BuildOutput, BuildRoles, ReleaseCommandRun } from './pipeline-roles';

const REGISTRY = 'registry.test:5000';
const AT = '2026-12-06T00:00:00.000Z';

function image(n: number, cmd = ['node', 'server.js']): Image {
  const digest = `sha256:${String(n).padStart(64, '0')}` as Digest;
  return {
    id: digest,
    manifestDigest: digest,
    manifest: { schemaVersion: 2, config: { mediaType: 'config', digest, size: 1 }, layers: [] },
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Cmd: cmd } },
    names: [],
  };
}

/** A builder that the worker stops mid-build: it ends as the real one does when its signal aborts. */
function stoppedBy(worker: AbortController): (options: BuildOptions) => Promise<Image> {
  return (options) =>
    new Promise((_resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(new BuildAbortedError()), { once: true });
      worker.abort();
    });
}

/** The build's log as the pusher would read it, kept in memory. */
class FakeLog implements BuildOutput {
  readonly lines: string[] = [];
  ended: string | undefined;
  step(text: string): void {
    this.lines.push(`-----> ${text}`);
  }
  info(text: string): void {
    this.lines.push(`       ${text}`);
  }
  error(text: string): void {
    this.lines.push(` !     ${text}`);
  }
  raw(chunk: Buffer): void {
    this.info(chunk.toString().trimEnd());
  }
  flushRaw(): void {}
  async drain(): Promise<void> {}
  async end(status: 'succeeded' | 'failed'): Promise<void> {
    this.ended = status;
  }
  get output(): string {
    return this.lines.map((line) => `${line}\n`).join('');
  }
  async stored(): Promise<string> {
    return this.output;
  }
}

/** What one build's fakes saw, and how they behave. */
interface Fakes {
  readonly roles: BuildRoles;
  readonly log: FakeLog;
  readonly tagged: string[];
  readonly pushed: string[];
  readonly releaseCommands: ReleaseCommandRun[];
  readonly events: string[];
  kicks: number;
  builds: number;
}

interface Behaviour {
  /** The pushed tree. */
  readonly files?: Record<string, string>;
  /** What the builder makes, or how it fails. */
  readonly build?: (options: BuildOptions) => Promise<Image>;
  readonly push?: (ref: string) => Promise<void>;
  readonly releaseCommand?: (run: ReleaseCommandRun) => Promise<number>;
  /** Whether the build's push still holds it (a push whose api died does not). */
  readonly held?: () => boolean;
}

describe('build pipeline', () => {
  let ds: DataSource;
  let close: (() => Promise<void>) | undefined;
  let work: string;
  // the release store is the real one on SQLite: the release lifecycle it moves is what these
  // cases are about, and a fake of it would be a second copy of that state machine
  before(async () => {
    ({ dataSource: ds, close } = await openTestDatabase('sqlite'));
    work = await mkdtemp(join(tmpdir(), 'paas-pipeline-'));
  });
  after(async () => {
    await close?.();
    await rm(work, { recursive: true, force: true });
  });

  function fakes(behaviour: Behaviour = {}): Fakes {
    const log = new FakeLog();
    const files = behaviour.files ?? { Dockerfile: 'FROM busybox\nCMD ["node", "server.js"]\n' };
    const seen: Fakes = {
      log,
      tagged: [],
      pushed: [],
      releaseCommands: [],
      events: [],
      kicks: 0,
      builds: 0,
      roles: {
        settings: { workRoot: work, registryHost: REGISTRY, pushCheckMs: 5 },
        ...databaseRoles(ds),
        source: {
          checkout: async (_repo, _commit, dir) => {
            await mkdir(dir, { recursive: true });
            for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
          },
        },
        baseImages: {
          resolve: async (name) => {
            throw new ImageNotFoundError(name);
          },
        },
        builder: {
          build: async (options) => {
            seen.builds++;
            options.output?.line?.('Step 1/2 : FROM busybox');
            return { image: await (behaviour.build ?? (async () => image(1)))(options) };
          },
        },
        publisher: {
          tag: async (_image, ref) => void seen.tagged.push(ref),
          push: async (ref) => {
            await behaviour.push?.(ref);
            seen.pushed.push(ref);
            log.info('pushed');
          },
          prune: async () => [],
        },
        releasePhase: {
          run: async (run) => {
            seen.releaseCommands.push(run);
            return behaviour.releaseCommand ? behaviour.releaseCommand(run) : 0;
          },
        },
        log,
        events: { event: async (_appId, line) => void seen.events.push(line) },
        scheduler: {
          askForPass: async () => {
            seen.kicks++;
          },
        },
        push: { held: async () => behaviour.held?.() ?? true },
      },
    };
    return seen;
  }

  async function push(app: App, commit = 'c'.repeat(40)): Promise<BuildJob> {
    const build = await createBuild(ds, { appId: app.id, commit, ref: 'refs/heads/main' });
    return {
      buildId: build.id,
      appId: app.id,
      app: app.name,
      commit,
      ref: 'refs/heads/main',
      repo: '/nonexistent',
      createdBy: 'tester',
    };
  }

  const FINAL: BuildAttempt = { final: true };
  const buildRow = (job: BuildJob): Promise<Build> => ds.manager.findOneByOrFail(Build, { id: job.buildId });
  const releasesOf = async (app: App): Promise<[number, string][]> =>
    (await ds.manager.find(Release, { where: { appId: app.id }, order: { version: 'ASC' } })).map((r) => [
      r.version,
      r.status,
    ]);

  /** A first deploy that went live: the app's v1. */
  async function deployed(app: App): Promise<Release> {
    const { releaseId } = await runPipeline(await push(app, 'a'.repeat(40)), fakes().roles, FINAL);
    return transaction(ds, (m) => releaseLive(m, releaseId, AT));
  }

  it('builds, pushes and releases a commit, and asks the scheduler for a pass', async () => {
    const app = await insertApp(ds, 'ok');
    const job = await push(app);
    const seen = fakes({
      files: { Dockerfile: 'FROM busybox\n', Procfile: 'web: node server.js\nrelease: migrate\n' },
    });
    const result = await runPipeline(job, seen.roles, FINAL);

    const release = await ds.manager.findOneByOrFail(Release, { id: result.releaseId });
    assert.deepEqual(result, { releaseId: release.id, version: 1 });
    assert.equal(release.status, 'deploying', 'built: the scheduler makes it live');
    assert.equal(release.imageRef, `${REGISTRY}/ok:v1`);
    assert.deepEqual(release.processTypes, { web: 'node server.js', release: 'migrate' });
    assert.deepEqual(seen.tagged, [`${REGISTRY}/ok:v1`]);
    assert.deepEqual(seen.pushed, [`${REGISTRY}/ok:v1`]);
    assert.deepEqual(
      seen.releaseCommands.map((r) => [r.command, r.image, r.releaseId]),
      [['migrate', `${REGISTRY}/ok:v1`, release.id]],
    );
    assert.equal(seen.kicks, 1);
    assert.deepEqual(seen.log.lines, [
      '-----> Building ok from main (ccccccc)',
      '-----> Dockerfile app detected',
      '       Procfile declares process types: web, release',
      '-----> Building image',
      '       Step 1/2 : FROM busybox',
      `-----> Pushing ${REGISTRY}/ok:v1`,
      '       pushed',
      '-----> Running release command: migrate',
      '-----> Released v1',
    ]);
    assert.equal(seen.log.ended, 'succeeded');
    assert.deepEqual(seen.events, [
      'Build 1 started by tester',
      'Deploy cccccccc by tester',
      'Release v1 created by tester',
    ]);
    const build = await buildRow(job);
    assert.equal(build.status, 'succeeded');
    assert.equal(build.releaseId, release.id);
    assert.equal(build.imageRef, `${REGISTRY}/ok:v1`);
    assert.equal(build.output, seen.log.output);
    assert.equal(existsSync(join(work, job.buildId)), false, 'the checkout is removed');
  });

  it("builds in the app's user namespace range with buildUserns auto (required: no fallback to host ids), with the host's ids with host", async () => {
    const app = await insertApp(ds, 'ns');
    const keys: Array<[string | undefined, boolean | undefined]> = [];
    for (const buildUserns of ['auto', 'host', undefined] as const) {
      const seen = fakes({
        build: async (options) => {
          keys.push([options.userns?.key, options.requireUserns]);
          return image(1);
        },
      });
      const roles = { ...seen.roles, settings: { ...seen.roles.settings, ...(buildUserns ? { buildUserns } : {}) } };
      await runPipeline(await push(app), roles, FINAL);
    }
    assert.deepEqual(keys, [
      [`app-${app.id}`, true],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('a failing build step fails the build with its reason and pushes nothing', async () => {
    const app = await insertApp(ds, 'broken');
    const job = await push(app);
    const seen = fakes({
      build: async () => {
        throw new BuildError('RUN npm ci: exit code 1');
      },
    });
    await assert.rejects(runPipeline(job, seen.roles, { final: false }), /RUN npm ci: exit code 1/);
    const build = await buildRow(job);
    assert.equal(build.status, 'failed', 'the app failed: not retried, even with attempts left');
    assert.equal(build.error, 'RUN npm ci: exit code 1');
    assert.deepEqual(seen.log.lines.slice(-2), [' !     RUN npm ci: exit code 1', ' !     Build failed']);
    assert.equal(seen.log.ended, 'failed');
    assert.deepEqual(seen.tagged, []);
    assert.deepEqual(seen.pushed, []);
    assert.equal(seen.kicks, 0);
    assert.deepEqual(await releasesOf(app), [], 'the release is made once the image is built');
    assert.match(seen.events.at(-1) ?? '', /^Build 1 failed -- check its output: paas builds:output #1 -a broken$/);
  });

  it('a push that fails on the last attempt fails the build and its release with the reason', async () => {
    const app = await insertApp(ds, 'unpushed');
    const job = await push(app);
    const seen = fakes({
      push: async () => {
        throw new Error('registry.test:5000 refused the blob upload');
      },
    });
    await assert.rejects(runPipeline(job, seen.roles, FINAL), /refused the blob upload/);
    const [release] = await ds.manager.find(Release, { where: { appId: app.id } });
    assert.equal(release?.status, 'failed');
    assert.equal(release?.deployError, 'registry.test:5000 refused the blob upload');
    assert.equal((await buildRow(job)).status, 'failed');
    assert.deepEqual(seen.pushed, []);
    assert.equal(seen.kicks, 0);
  });

  it('a push refused in every attempt leaves its release failed with the reason, not building (issue #20)', async () => {
    const app = await insertApp(ds, 'refused');
    const job = await push(app);
    // what a build worker speaking HTTPS to a plain-HTTP registry gets, attempt after attempt
    const refused = (): Fakes =>
      fakes({
        push: async (ref) => {
          throw new Error(`HEAD https://${ref.split('/')[0]}/v2/: ERR_SSL_WRONG_VERSION_NUMBER`);
        },
      });
    for (const final of [false, false]) {
      await assert.rejects(runPipeline(job, refused().roles, { final }), /ERR_SSL_WRONG_VERSION_NUMBER/);
      assert.deepEqual(await releasesOf(app), [[1, 'building']], 'retried: the release waits for the next attempt');
    }
    await assert.rejects(runPipeline(job, refused().roles, FINAL), /ERR_SSL_WRONG_VERSION_NUMBER/);
    assert.deepEqual(await releasesOf(app), [[1, 'failed']], 'one release, settled by the last attempt');
    const release = await ds.manager.findOneByOrFail(Release, { appId: app.id });
    assert.match(release.deployError ?? '', /ERR_SSL_WRONG_VERSION_NUMBER/);
    const build = await buildRow(job);
    assert.equal(build.status, 'failed');
    assert.equal(build.attempts, 3);
  });

  it('a failing release command fails the release, and the live release keeps serving', async () => {
    const app = await insertApp(ds, 'migrating');
    const v1 = await deployed(app);
    const job = await push(app);
    const seen = fakes({
      files: { Dockerfile: 'FROM busybox\n', Procfile: 'web: serve\nrelease: migrate\n' },
      releaseCommand: async () => 3,
    });
    await assert.rejects(runPipeline(job, seen.roles, FINAL), /release command failed with exit code 3/);
    const v2 = await ds.manager.findOneOrFail(Release, { where: { appId: app.id, version: 2 } });
    assert.equal(v2.status, 'failed');
    assert.equal(v2.deployError, 'release command failed with exit code 3: v2 was not released');
    assert.equal((await currentRelease(ds.manager, app.id))?.id, v1.id, 'v2 is not the target');
    assert.equal((await liveRelease(ds.manager, app.id))?.id, v1.id);
    assert.equal(seen.kicks, 0);
    assert.equal((await buildRow(job)).status, 'failed');
    assert.ok(!seen.log.lines.includes('-----> Released v2'), seen.log.lines.join('\n'));
  });

  it('a job run again after its worker died finds the release of its first attempt', async () => {
    const app = await insertApp(ds, 'retried');
    const job = await push(app);
    // the first attempt stops in its release command: the worker is gone, the job runs again
    const first = fakes({
      files: { Dockerfile: 'FROM busybox\n', Procfile: 'web: serve\nrelease: migrate\n' },
      releaseCommand: async () => {
        throw new Error('connection to the engine lost');
      },
    });
    await assert.rejects(runPipeline(job, first.roles, { final: false }), /engine lost/);
    assert.deepEqual(first.log.lines.slice(-2), [
      ' !     connection to the engine lost',
      '-----> This attempt failed; the build will be retried',
    ]);
    assert.equal(first.log.ended, undefined, 'the stream goes on with the next attempt');
    assert.deepEqual(await releasesOf(app), [[1, 'building']]);
    assert.equal((await buildRow(job)).status, 'building');

    // the cache was pruned meanwhile: the second attempt builds another image
    const second = fakes({
      files: { Dockerfile: 'FROM busybox\n', Procfile: 'web: serve\nrelease: migrate\n' },
      build: async () => image(2),
    });
    const result = await runPipeline(job, second.roles, FINAL);
    assert.equal(
      second.log.lines[0],
      '-----> Build restarted (attempt 2): the previous attempt stopped before it finished',
    );
    assert.deepEqual(await releasesOf(app), [[1, 'deploying']], 'the same release, not a second one');
    const release = await ds.manager.findOneOrFail(Release, { where: { appId: app.id } });
    assert.equal(result.releaseId, release.id);
    assert.equal(release.imageDigest, image(2).manifestDigest, 'it takes the image the retry built');
    assert.equal((await buildRow(job)).attempts, 2);

    // and once more after it finished (a crash before the job completed): the same answer, no build
    const third = fakes();
    assert.deepEqual(await runPipeline(job, third.roles, FINAL), result);
    assert.equal(third.builds, 0);
    assert.equal(await ds.manager.count(Release, { where: { appId: app.id } }), 1);
  });

  it('a build interrupted by its worker stopping is left to run again', async () => {
    const app = await insertApp(ds, 'interrupted');
    const job = await push(app);
    const stopping = new AbortController();
    const seen = fakes({ build: stoppedBy(stopping) });
    await assert.rejects(runPipeline(job, seen.roles, { final: false, signal: stopping.signal }), BuildAbortedError);
    assert.deepEqual(seen.log.lines.slice(-2), [
      ' !     Build interrupted: the worker is shutting down',
      '-----> This attempt failed; the build will be retried',
    ]);
    assert.equal((await buildRow(job)).status, 'building', 'not failed: the job runs again');
    assert.deepEqual(seen.pushed, []);
    assert.equal(existsSync(join(work, job.buildId)), false);

    // interrupted in its last attempt, it fails
    const last = new AbortController();
    const final = fakes({ build: stoppedBy(last) });
    await assert.rejects(runPipeline(job, final.roles, { final: true, signal: last.signal }), BuildAbortedError);
    const build = await buildRow(job);
    assert.equal(build.status, 'failed');
    assert.equal(build.error, 'Build interrupted: the worker is shutting down');
  });

  it('a build overtaken by a config change is superseded, and the config change serves', async () => {
    const app = await insertApp(ds, 'overtaken');
    const v1 = await deployed(app);
    const job = await push(app);
    let v3: Release | null = null;
    const seen = fakes({
      push: async () => {
        v3 = await changeConfig(ds, app.id, { set: { A: '1' }, unset: [] }, 'tester');
      },
    });
    const result = await runPipeline(job, seen.roles, FINAL);
    assert.equal(result.version, 2);
    assert.deepEqual(await releasesOf(app), [
      [1, 'live'],
      [2, 'superseded'],
      [3, 'deploying'],
    ]);
    assert.equal((v3 as Release | null)?.imageRef, v1.imageRef, 'the config change took the image in effect then');
    assert.equal((await currentRelease(ds.manager, app.id))?.version, 3);
    assert.equal(await releaseState(ds.manager, result.releaseId), 'superseded');
  });

  it("a config change during the app's first build does not leave it without code", async () => {
    const app = await insertApp(ds, 'first');
    const job = await push(app);
    const seen = fakes({
      push: async () => {
        // nothing has an image yet: the config change's release is live at once, with none
        const v2 = await changeConfig(ds, app.id, { set: { DATABASE_URL: 'postgres://db' }, unset: [] }, 'tester');
        assert.equal(v2?.status, 'live');
        assert.equal(v2?.imageRef, null);
      },
    });
    const result = await runPipeline(job, seen.roles, FINAL);
    const carrier = await ds.manager.findOneByOrFail(Release, { id: result.releaseId });
    assert.deepEqual(await releasesOf(app), [
      [1, 'superseded'],
      [2, 'live'],
      [3, 'deploying'],
    ]);
    assert.equal(result.version, 3, 'the build is released as v3');
    assert.equal(carrier.imageRef, `${REGISTRY}/first:v1`, "the build's image");
    assert.deepEqual(carrier.config, { DATABASE_URL: 'postgres://db' }, 'with the config set meanwhile');
    assert.equal(carrier.buildId, job.buildId);
    assert.equal((await currentRelease(ds.manager, app.id))?.id, carrier.id);
    assert.equal((await buildRow(job)).releaseId, carrier.id);
    assert.equal(seen.log.lines.at(-1), '-----> Released v3');
    assert.equal(seen.kicks, 1);

    // its job run once more (a crash before the job completed): the same answer, no other release
    await ds.manager.update(Build, { id: job.buildId }, { status: 'building' });
    const again = fakes();
    assert.deepEqual(await runPipeline(job, again.roles, FINAL), result);
    assert.equal(again.log.lines.at(-1), '-----> Released v3');
    assert.equal((await buildRow(job)).releaseId, carrier.id);
    assert.equal(await ds.manager.count(Release, { where: { appId: app.id } }), 3);
    assert.deepEqual(again.pushed, []);

    await transaction(ds, (m) => releaseLive(m, carrier.id, AT));
    assert.deepEqual(await releasesOf(app), [
      [1, 'superseded'],
      [2, 'superseded'],
      [3, 'live'],
    ]);
  });

  it('a generated Dockerfile needs a base image this node has', async () => {
    const app = await insertApp(ds, 'nodeless');
    const job = await push(app);
    const seen = fakes({ files: { 'package.json': '{"name":"x","scripts":{"start":"node ."}}' } });
    await assert.rejects(runPipeline(job, seen.roles, FINAL), /no node base image \(node:20 or node:latest\)/);
    assert.equal(seen.builds, 0);
    assert.equal((await buildRow(job)).status, 'failed');
    assert.equal(await readFile(join(work, job.buildId, 'Dockerfile.generated')).catch(() => null), null);
  });

  describe("a push's build deploys only while its push holds it", () => {
    const pushed = async (app: App): Promise<BuildJob> => ({ ...(await push(app)), oldId: 'a'.repeat(40) });

    it('a build run again after its push died builds nothing and fails', async () => {
      const v1 = await deployed(await insertApp(ds, 'gone-before'));
      const app = { id: v1.appId, name: 'gone-before' } as App;
      const job = await pushed(app);
      const seen = fakes({ held: () => false });
      await assert.rejects(runPipeline(job, seen.roles, { final: false }), AppBuildError);
      assert.equal(seen.builds, 0);
      const build = await buildRow(job);
      assert.equal(build.status, 'failed', 'failed for good, even with attempts left');
      assert.equal(build.error, PUSH_GONE);
      assert.deepEqual(await releasesOf(app), [[1, 'live']]);
      assert.equal(seen.log.ended, 'failed');
    });

    it('a push that dies during the release command leaves its release failed, not deploying', async () => {
      const v1 = await deployed(await insertApp(ds, 'gone-release'));
      const app = { id: v1.appId, name: 'gone-release' } as App;
      const job = await pushed(app);
      let held = true;
      const seen = fakes({
        files: { Dockerfile: 'FROM busybox\n', Procfile: 'web: serve\nrelease: migrate\n' },
        held: () => held,
        releaseCommand: async () => {
          held = false; // the api serving the push died meanwhile
          return 0;
        },
      });
      await assert.rejects(runPipeline(job, seen.roles, FINAL), AppBuildError);
      assert.deepEqual(await releasesOf(app), [
        [1, 'live'],
        [2, 'failed'],
      ]);
      assert.equal((await currentRelease(ds.manager, app.id))?.id, v1.id, 'v1 keeps serving');
      assert.equal(seen.kicks, 0);
    });

    it('a push that dies while its image builds stops the build', async () => {
      const app = await insertApp(ds, 'gone-building');
      const job = await pushed(app);
      let held = true;
      const seen = fakes({
        held: () => held,
        build: (options) =>
          new Promise((_resolve, reject) => {
            options.signal?.addEventListener('abort', () => reject(new BuildAbortedError()), { once: true });
            held = false;
          }),
      });
      await assert.rejects(runPipeline(job, seen.roles, { final: false }), AppBuildError);
      assert.equal((await buildRow(job)).error, PUSH_GONE);
      assert.deepEqual(await releasesOf(app), []);
      assert.deepEqual(seen.pushed, []);
    });

    it('a build no push waits on is not asked', async () => {
      const app = await insertApp(ds, 'no-push');
      const seen = fakes({ held: () => assert.fail('asked') });
      await runPipeline(await push(app), seen.roles, FINAL);
      assert.deepEqual(await releasesOf(app), [[1, 'deploying']]);
    });
  });
});
