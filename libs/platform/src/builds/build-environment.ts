/**
 * What a build worker has (database, Redis, image store, builder, engine, registry client) and
 * the pipeline's real roles over it (pipeline-roles.ts), made per job: the build's log is the
 * build's Redis stream, and the image push and release command write to it.
 */
import type { Builder } from '@paas/builder';
import type { Engine } from '@paas/engine';
import type { ImageService } from '@paas/images';
import { formatReference, parseNormalizedReference } from '@paas/oci';
import type { RegistryClient } from '@paas/registry';
import type { Redis } from 'ioredis';
import { type DataSource, In, Not } from 'typeorm';
import { appReach } from '../addons';
import { buildLogKey, writeAppLog } from '../logs';
import { transaction } from '../model/database';
import { Build, Release } from '../model/entities';
import { failBuildingRelease } from '../release-lifecycle';
import { BuildStoppedError, appConfig, createRelease, releaseBuild } from '../releases';
import { askForPass } from '../scheduling/kick';
import { BuildLog } from './build-log';
import { streamedOutput } from './builds';
import { checkoutCommit } from './checkout';
import { pushHeld } from './push-lease';
import type { BuildJob, BuildOutput, BuildRoles, PipelineSettings } from './pipeline-roles';
import { runReleaseCommand } from './release-phase';
import { pruneReleaseImages, pushReleaseImage } from './release-images';

/** What a build worker has; the pipeline's settings but the registry, which is a client here. */
export interface BuildEnvironment extends Omit<PipelineSettings, 'registryHost'> {
  readonly dataSource: DataSource;
  readonly redis: Redis;
  readonly images: ImageService;
  readonly builder: Builder;
  /** Runs the release command. */
  readonly engine: Engine;
  /** The registry release images go to, as `host:port`; the client speaks to it. */
  readonly registry: RegistryClient;
  /** The release command's memory limit in bytes (the builds'). */
  readonly releaseMemory?: number;
  /** `auto`: the release command in a user namespace, the app's range (as its instances). */
  readonly releaseUserns?: 'auto' | 'host';
}

/** The build's Redis stream, and what of it Build.output keeps. */
class StreamedBuildLog extends BuildLog implements BuildOutput {
  constructor(
    private readonly stream: Redis,
    key: string,
  ) {
    super(stream, key);
  }

  stored(): Promise<string> {
    return streamedOutput(this.stream, this.key);
  }
}

/** The real roles of one job's build. */
export function buildRoles(env: BuildEnvironment, job: BuildJob): BuildRoles {
  const { dataSource, redis, images, registry } = env;
  const log = new StreamedBuildLog(redis, buildLogKey(job.buildId));
  return {
    settings: {
      workRoot: env.workRoot,
      registryHost: registry.host,
      ...(env.nodeImages ? { nodeImages: env.nodeImages } : {}),
      ...(env.pythonImages ? { pythonImages: env.pythonImages } : {}),
      ...(env.busyboxImage ? { busyboxImage: env.busyboxImage } : {}),
      ...(env.keepReleases !== undefined ? { keepReleases: env.keepReleases } : {}),
      ...(env.timeoutMs ? { timeoutMs: env.timeoutMs } : {}),
      ...(env.buildUserns ? { buildUserns: env.buildUserns } : {}),
    },
    ...databaseRoles(dataSource),
    source: { checkout: checkoutCommit },
    baseImages: { resolve: (name) => images.resolve(name) },
    builder: env.builder,
    publisher: {
      tag: async (image, ref) => {
        await images.refs.set(formatReference(parseNormalizedReference(ref)), await images.manifestDescriptor(image));
      },
      push: async (ref) => {
        await pushReleaseImage(images, registry, ref, log);
      },
      prune: (appId, keep) => pruneReleaseImages(dataSource, images, registry, appId, keep),
    },
    releasePhase: {
      run: async (command) =>
        runReleaseCommand({
          ...command,
          engine: env.engine,
          log,
          ...(env.releaseMemory ? { memory: env.releaseMemory } : {}),
          ...(env.releaseUserns === 'auto' ? { userns: { mode: 'auto' as const, key: `app-${job.appId}` } } : {}),
          reach: await appReach(dataSource.manager, job.appId),
        }),
    },
    log,
    events: { event: (appId, line) => writeAppLog(redis, appId, 'api', line) },
    scheduler: { askForPass: () => askForPass(redis) },
    push: { held: (buildId) => pushHeld(redis, buildId) },
  };
}

/** The build's row and release in the platform's database (release-lifecycle.ts moves the release). */
export function databaseRoles(dataSource: DataSource): Pick<BuildRoles, 'builds' | 'releases'> {
  const failure = async (id: string): Promise<string> =>
    (await dataSource.manager.findOne(Build, { where: { id } }))?.error ?? 'the build was failed meanwhile';
  return {
    builds: {
      find: (id) => dataSource.manager.findOne(Build, { where: { id } }),
      // each move of the row holds only if the build was not failed meanwhile (failLostBuild)
      started: async (id, attempt) => {
        const moved = await dataSource.manager.update(
          Build,
          { id, status: In(['pending', 'building']) },
          { status: 'building', attempts: attempt },
        );
        if (moved.affected === 0) throw new BuildStoppedError(await failure(id));
      },
      succeeded: async (id, outcome) => {
        const moved = await dataSource.manager.update(
          Build,
          { id, status: 'building' },
          { status: 'succeeded', ...outcome, error: null },
        );
        if (moved.affected === 0) throw new BuildStoppedError(await failure(id));
      },
      saveOutput: async (id, output) => {
        await dataSource.manager.update(Build, { id }, { output });
      },
      failed: async (id, reason, output) => {
        await transaction(dataSource, (manager) => failBuildingRelease(manager, id, reason));
        // a build failed first by another (failLostBuild) keeps the reason it gave
        await dataSource.manager.update(
          Build,
          { id, status: Not('failed') },
          { status: 'failed', error: reason, output },
        );
      },
    },
    releases: {
      find: (id) => dataSource.manager.findOne(Release, { where: { id } }),
      appConfig: (appId) => appConfig(dataSource.manager, appId),
      create: (input) => createRelease(dataSource, input),
      setImage: async (id, imageRef, imageDigest) => {
        await dataSource.manager.update(Release, { id }, { imageRef, imageDigest });
      },
      built: (id) => transaction(dataSource, (manager) => releaseBuild(manager, id)),
      ofBuild: (buildId) => dataSource.manager.findOne(Release, { where: { buildId }, order: { version: 'DESC' } }),
    },
  };
}
