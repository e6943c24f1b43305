/**
 * What a build worker does with one `BuildJobData`: the pushed commit becomes release vN.
 *
 *   check out the commit -> read Procfile and app.json -> detect the app (Dockerfile, Node.js,
 *   static) -> build with the engine's builder (the app's step cache reused across pushes)
 *   -> release vN, building -> tag and push REGISTRY/APP:vN -> the Procfile `release` command
 *   -> release vN deploying (the scheduler makes it live) -> prune old release images
 *
 * A build that fails for good fails its release too (release-lifecycle.ts moves both). A config
 * change during the app's first build does not leave the app without code: the build's image
 * goes on in a release with that config (releases.ts releaseBuild).
 *
 * Every line goes to the build's Redis stream as it happens. A job the queue runs again (its
 * worker was killed) starts over from the checkout: the build cache makes the finished steps
 * free, and the release is created with the idempotency key `<commit>:<build id>`, so the
 * second attempt finds the first attempt's release instead of making another one.
 *
 * The pipeline works through roles (pipeline-roles.ts: checkout, builder, release store, image
 * publisher, release phase, log...); runBuild gives it the real ones (build-environment.ts).
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildAbortedError, BuildContext, BuildError } from '@paas/builder';
import { DockerfileError } from '@paas/dockerfile';
import { type Image, ImageNotFoundError } from '@paas/images';
import { imageCommand } from '../image-command';
import { BuildStoppedError } from '../releases';
import type { HealthcheckSpec } from '../model/entities';
import type { BuildJobResult } from '../queue';
import { parseAppJson } from './app-json';
import { type BuildEnvironment, buildRoles } from './build-environment';
import { buildNetwork } from './build-network';
import { type AppPlan, type NodePlan, detectApp, nodeSatisfies } from './detect';
import { generateDockerfile } from './dockerfile';
import { AppBuildError } from './errors';
import type { BuildJob, BuildRoles } from './pipeline-roles';
import { parseProcfile } from './procfile';
import { KEEP_RELEASE_IMAGES, releaseImageRef } from './release-images';

export type { BuildJob } from './pipeline-roles';

export interface BuildAttempt {
  /** No attempt follows this one: any failure now fails the build. */
  readonly final: boolean;
  /** Aborted when the worker shuts down: the attempt stops and the job is run again later. */
  readonly signal?: AbortSignal;
}

/** What the build made, before it is released. */
interface Built {
  readonly image: Image;
  readonly stack: AppPlan['stack'];
  readonly processTypes: Record<string, string>;
  readonly healthchecks: Record<string, HealthcheckSpec[]> | null;
}

/** Failures of the app itself (bad Dockerfile, failing RUN step, release command): never retried. */
export function isAppBuildError(err: unknown): boolean {
  if (err instanceof BuildAbortedError) return false;
  return (
    err instanceof AppBuildError ||
    err instanceof DockerfileError ||
    err instanceof BuildError ||
    // failed by another meanwhile (its job lost, its push gone): another attempt would not help
    err instanceof BuildStoppedError
  );
}

/** A build worker's job, through the real roles over its environment (build-environment.ts). */
export function runBuild(job: BuildJob, env: BuildEnvironment, attempt: BuildAttempt): Promise<BuildJobResult> {
  return runPipeline(job, buildRoles(env, job), attempt);
}

/** One attempt at a build job, through its roles. */
export async function runPipeline(job: BuildJob, roles: BuildRoles, attempt: BuildAttempt): Promise<BuildJobResult> {
  const { builds, log, settings } = roles;
  const build = await builds.find(job.buildId);
  if (!build) throw new AppBuildError(`build ${job.buildId} of ${job.app} no longer exists (was the app deleted?)`);
  if (build.status === 'succeeded' && build.releaseId) {
    const release = await roles.releases.find(build.releaseId);
    if (release) return { releaseId: release.id, version: release.version };
  }
  if (build.status === 'failed')
    throw new AppBuildError(build.error ?? `build ${build.number} of ${job.app} has failed`);
  const number = build.attempts + 1;
  await builds.started(build.id, number);
  const who = job.createdBy ? ` by ${job.createdBy}` : '';
  if (number > 1) log.step(`Build restarted (attempt ${number}): the previous attempt stopped before it finished`);
  else await roles.events.event(job.appId, `Build ${build.number} started${who}`);

  const dir = join(settings.workRoot, job.buildId);
  // a pushed RUN step may never end (or print forever): it must not keep the worker from others
  const deadline = settings.timeoutMs ? AbortSignal.timeout(settings.timeoutMs) : undefined;
  // a push's build stops (its containers go) once its push is gone: nobody will move the branch
  const pushGone = new AbortController();
  const watching = job.oldId === undefined ? undefined : watchPush(roles, job.buildId, pushGone, settings.pushCheckMs);
  const signals = [attempt.signal, deadline, pushGone.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = AbortSignal.any(signals);
  try {
    const result = await buildAndRelease(job, roles, dir, signal);
    await log.drain();
    await builds.saveOutput(build.id, await log.stored());
    await log.end('succeeded');
    await roles.events.event(job.appId, `Deploy ${job.commit.slice(0, 8)}${who}`);
    await roles.events.event(job.appId, `Release v${result.version} created${who}`);
    return result;
  } catch (caught) {
    const interrupted = attempt.signal?.aborted === true;
    const err =
      !interrupted && pushGone.signal.aborted
        ? new AppBuildError(PUSH_GONE)
        : !interrupted && deadline?.aborted === true
          ? new AppBuildError(
              `the build took longer than ${Math.round((settings.timeoutMs ?? 0) / 1000)} s and was stopped`,
            )
          : caught;
    const appError = !interrupted && isAppBuildError(err);
    const message = interrupted ? 'Build interrupted: the worker is shutting down' : errorMessage(err);
    if (!appError && !attempt.final) {
      log.error(message);
      log.step('This attempt failed; the build will be retried');
      await log.drain().catch(() => undefined);
      throw err;
    }
    log.error(message);
    log.error('Build failed');
    await log.drain().catch(() => undefined);
    const output = await log.stored().catch(() => log.output);
    await builds.failed(build.id, message, output);
    await log.end('failed');
    await roles.events.event(
      job.appId,
      `Build ${build.number} failed -- check its output: paas builds:output #${build.number} -a ${job.app}`,
    );
    throw err;
  } finally {
    if (watching) clearInterval(watching);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Why a push's build deploys nothing (push-lease.ts: its api died before it answered). */
export const PUSH_GONE =
  'the push of this build is gone (the api serving it stopped before its release was live): nothing was deployed; push again';

/** Aborts `gone` once the build's push no longer holds it (a failed look is tried again). */
function watchPush(
  roles: BuildRoles,
  buildId: string,
  gone: AbortController,
  everyMs = 2000,
): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    roles.push.held(buildId).then(
      (held) => {
        if (!held) gone.abort();
      },
      () => undefined,
    );
  }, everyMs);
  return timer;
}

/** A push's build goes on only while its push holds it: else it fails, deploying nothing. */
async function pushHolds(job: BuildJob, roles: BuildRoles): Promise<void> {
  if (job.oldId !== undefined && !(await roles.push.held(job.buildId))) throw new AppBuildError(PUSH_GONE);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function buildAndRelease(
  job: BuildJob,
  roles: BuildRoles,
  dir: string,
  signal: AbortSignal | undefined,
): Promise<BuildJobResult> {
  const { log, releases, publisher, settings } = roles;
  const branch = job.ref.replace(/^refs\/heads\//, '');
  await pushHolds(job, roles);
  log.step(`Building ${job.app} from ${branch} (${job.commit.slice(0, 7)})`);
  const source = join(dir, 'source');
  await mkdir(dir, { recursive: true });
  await roles.source.checkout(job.repo, job.commit, source);
  const built = await buildImage(roles, dir, source, job, signal);

  let release = await releases.create({
    appId: job.appId,
    description: `Deploy ${job.commit.slice(0, 8)}`,
    imageRef: null,
    imageDigest: built.image.manifestDigest,
    processTypes: built.processTypes,
    healthchecks: built.healthchecks,
    buildId: job.buildId,
    idempotencyKey: `${job.commit}:${job.buildId}`,
    building: true,
    createdBy: job.createdBy ?? null,
  });
  if (release.status === 'failed') {
    throw new AppBuildError(`release v${release.version} failed in an earlier attempt of this build`);
  }
  const ref = releaseImageRef(settings.registryHost, job.app, release.version);
  if (release.status === 'building') {
    await publisher.tag(built.image, ref);
    // a retry may have rebuilt the image (its cache pruned meanwhile): the building release takes it
    await releases.setImage(release.id, ref, built.image.manifestDigest);
    log.step(`Pushing ${ref}`);
    await publisher.push(ref);
    const command = built.processTypes['release'];
    if (command !== undefined) {
      log.step(`Running release command: ${command}`);
      const code = await roles.releasePhase.run({
        image: ref,
        command,
        env: release.config,
        releaseId: release.id,
        app: job.app,
        ...(signal ? { signal } : {}),
      });
      if (signal?.aborted) throw new BuildAbortedError();
      // runBuild's failure fails the release with this reason
      if (code !== 0)
        throw new AppBuildError(`release command failed with exit code ${code}: v${release.version} was not released`);
    }
    // the commit point's first half: deployable only while the push is there to move the branch
    await pushHolds(job, roles);
    // the release that carries the build: this one, or a newer one when a config change of the
    // app's first build took effect meanwhile (releases.ts releaseBuild)
    release = await releases.built(release.id);
    // a worker in a process of its own: the api's scheduler deploys now, not on its next tick
    await roles.scheduler.askForPass().catch(() => undefined);
  } else {
    // an earlier attempt built it (and died before it said so): what carries the build now
    release = (await releases.ofBuild(job.buildId)) ?? release;
  }
  await roles.builds.succeeded(job.buildId, {
    stack: built.stack,
    imageRef: ref,
    imageDigest: built.image.manifestDigest,
    processTypes: built.processTypes,
    healthchecks: built.healthchecks,
    releaseId: release.id,
  });
  try {
    const pruned = await publisher.prune(job.appId, settings.keepReleases ?? KEEP_RELEASE_IMAGES);
    if (pruned.length > 0)
      log.info(`Pruned old release images: ${pruned.map((r) => r.slice(r.lastIndexOf(':') + 1)).join(', ')}`);
  } catch (err) {
    log.error(`Warning: pruning old release images failed: ${errorMessage(err)}`);
  }
  log.step(`Released v${release.version}`);
  return { releaseId: release.id, version: release.version };
}

/** The tree at `source` -> an image, with its process types and health checks. */
async function buildImage(
  roles: BuildRoles,
  dir: string,
  source: string,
  { app, appId }: BuildJob,
  signal: AbortSignal | undefined,
): Promise<Built> {
  const { log, settings } = roles;
  const names = new Set(await readdir(source));
  // the pushed tree's links resolve inside it (a Procfile -> /etc/shadow reads nothing)
  const context = await BuildContext.open(source);
  const read = async (name: string): Promise<string> => {
    const text = context.readFile(name);
    if (text === undefined) throw new AppBuildError(`${name} is not a readable file inside the repository`);
    return text;
  };
  const procfile = names.has('Procfile') ? parseProcfile(await read('Procfile')) : undefined;
  const appJson = names.has('app.json') ? parseAppJson(await read('app.json')) : undefined;
  const plan = detectApp({
    names,
    ...(names.has('package.json') ? { packageJson: await read('package.json') } : {}),
    ...(await pythonRequirements(names, read)),
    ...(procfile ? { procfile } : {}),
  });
  for (const warning of appJson?.warnings ?? []) log.error(`Warning: ${warning}`);
  const config = await roles.releases.appConfig(appId);

  let dockerfile: string | undefined;
  if (plan.stack === 'dockerfile') {
    log.step('Dockerfile app detected');
  } else {
    log.step(DETECTED[plan.stack]);
    if (plan.stack === 'node' || plan.stack === 'python') for (const note of plan.notes) log.info(note);
    const text = generateDockerfile(plan, {
      nodeImage: plan.stack === 'node' ? await nodeImage(roles, plan) : '',
      ...(plan.stack === 'python'
        ? { pythonImage: await firstImage(roles, settings.pythonImages ?? ['python:3', 'python:latest'], 'python') }
        : {}),
      busyboxImage: settings.busyboxImage ?? 'busybox:latest',
      buildArgs: Object.keys(config),
    });
    dockerfile = join(dir, 'Dockerfile.generated');
    await writeFile(dockerfile, text);
  }
  if (procfile) log.info(`Procfile declares process types: ${Object.keys(procfile).join(', ')}`);

  log.step('Building image');
  const result = await roles.builder.build({
    contextDir: source,
    ...(dockerfile ? { dockerfile } : {}),
    buildArgs: config,
    // RUN steps reach out through the node's bridge (unless PAAS_BUILD_NETWORK=none), cut off
    // from every other container as the app's instances are
    network: buildNetwork(config),
    isolated: true,
    // RUN --mount=type=cache directories (npm's cache) are the app's own
    cacheScope: appId,
    // root in a RUN step is the app's unprivileged range, as in its instances (PAAS_BUILD_USERNS)
    // and fails rather than run them as host root where it cannot (the CLI's --userns=auto warns)
    ...(settings.buildUserns === 'auto' ? { userns: { key: `app-${appId}` }, requireUserns: true } : {}),
    // base images, and this app's own releases; never another app's (its code and config)
    mayUse: (names) =>
      names.some((n) => !n.startsWith(`${settings.registryHost}/`) || n.startsWith(`${settings.registryHost}/${app}:`)),
    output: { line: (text) => log.info(text), raw: (chunk) => log.raw(chunk) },
    ...(signal ? { signal } : {}),
  });
  log.flushRaw();
  const processTypes = { ...(procfile ?? {}) };
  if (processTypes['web'] === undefined) {
    const web = plan.stack === 'dockerfile' ? imageCommand(result.image.config.config) : plan.web;
    if (web) processTypes['web'] = web;
    else log.error('Warning: the image has no CMD and the Procfile no web process: the app has no web process');
  }
  return { image: result.image, stack: plan.stack, processTypes, healthchecks: appJson?.healthchecks ?? null };
}

/**
 * The first node base image the store has whose node satisfies the app's `engines.node` (its
 * NODE_VERSION, as the official images and `paas image bootstrap node` set it): the generated
 * Dockerfile builds FROM it. None that fits fails the build naming the versions there are.
 */
async function nodeImage(roles: BuildRoles, plan: NodePlan): Promise<string> {
  const { log } = roles;
  const candidates = roles.settings.nodeImages ?? ['node:20', 'node:latest'];
  const found: string[] = [];
  for (const name of candidates) {
    let image: Image;
    try {
      image = await roles.baseImages.resolve(name);
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
      continue;
    }
    const version = image.config.config?.Env?.find((e) => e.startsWith('NODE_VERSION='))?.slice(13);
    if (plan.engines === undefined) return name;
    if (version === undefined) {
      log.error(
        `Warning: ${name} does not say its node version (NODE_VERSION): engines.node ${plan.engines} not checked`,
      );
      return name;
    }
    if (nodeSatisfies(version, plan.engines)) {
      log.info(`Using node ${version} (${name}) for engines.node ${plan.engines}`);
      return name;
    }
    found.push(`${name} has node ${version}`);
  }
  if (found.length > 0) {
    throw new AppBuildError(
      `package.json engines.node ${JSON.stringify(plan.engines)} cannot be met on this node: ${found.join(', ')}; change engines.node, or make a fitting node image available`,
    );
  }
  throw new AppBuildError(
    `no node base image (${candidates.join(' or ')}) on this node: run paas image bootstrap node`,
  );
}

const DETECTED: Record<Exclude<AppPlan['stack'], 'dockerfile'>, string> = {
  node: 'Node.js app detected',
  python: 'Python app detected',
  static: 'Static site detected (index.html)',
};

/** What a Python app installs, read only when no Dockerfile or package.json comes first. */
async function pythonRequirements(
  names: ReadonlySet<string>,
  read: (name: string) => Promise<string>,
): Promise<{ pythonRequirements?: string }> {
  if (names.has('Dockerfile') || names.has('package.json')) return {};
  const file = ['requirements.txt', 'pyproject.toml'].find((name) => names.has(name));
  return file ? { pythonRequirements: await read(file) } : {};
}

/** The first of these base images the store has. */
async function firstImage(roles: BuildRoles, candidates: readonly string[], bootstrap: string): Promise<string> {
  for (const name of candidates) {
    try {
      await roles.baseImages.resolve(name);
      return name;
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
    }
  }
  throw new AppBuildError(
    `no ${bootstrap} base image (${candidates.join(' or ')}) on this node: run paas image bootstrap ${bootstrap}`,
  );
}
