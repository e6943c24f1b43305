/**
 * The roles the build pipeline (pipeline.ts) works through, one small interface each. The
 * pipeline knows only these, so its specs run on small fakes of them, without root, engine,
 * registry or Redis; build-environment.ts makes the real ones from what a build worker has.
 *
 *   SourceCheckout  the pushed commit as a tree on disk
 *   BaseImages      which base images of generated Dockerfiles this node has
 *   ImageBuilder    the engine's builder: a tree and a Dockerfile -> an image
 *   BuildRecords    the build's row, and its failure (which fails its release with it)
 *   ReleaseStore    the build's release: created once per build, moved by release-lifecycle.ts
 *   ImagePublisher  REGISTRY/APP:vN tagged, pushed, and old release images pruned
 *   ReleasePhase    the Procfile's `release` command in a container of the new image
 *   BuildOutput     the build's log, as the pusher reads it
 *   AppEvents       lines in the app's log (`app[api]`)
 *   SchedulerKick   asks the scheduler for a pass now
 *   PushHold        whether the push that started the build still waits for it
 */
import type { BuildOptions } from '@paas/builder';
import type { Image } from '@paas/images';
import type { Build, HealthcheckSpec, Release } from '../model/entities';
import type { BuildJobData } from '../queue';
import type { NewRelease } from '../releases';

/** A build job as a push enqueues it: the queue's BuildJobData and who pushed (a token's name). */
export type BuildJob = BuildJobData & { readonly createdBy?: string | null };

export interface SourceCheckout {
  /** Writes the tree of `commit` in `repo` to `dir`. */
  checkout(repo: string, commit: string, dir: string): Promise<void>;
}

export interface BaseImages {
  /** The image named `name`; ImageNotFoundError when this node has none. */
  resolve(name: string): Promise<Image>;
}

export interface ImageBuilder {
  build(options: BuildOptions): Promise<{ readonly image: Image }>;
}

/** What a finished build records beside its status. */
export interface BuildOutcome {
  readonly stack: string;
  readonly imageRef: string;
  readonly imageDigest: string;
  readonly processTypes: Record<string, string>;
  readonly healthchecks: Record<string, HealthcheckSpec[]> | null;
  readonly releaseId: string;
}

export interface BuildRecords {
  find(buildId: string): Promise<Build | null>;
  /** The build is building, in its `attempt`th attempt. */
  started(buildId: string, attempt: number): Promise<void>;
  succeeded(buildId: string, outcome: BuildOutcome): Promise<void>;
  /** Keeps the build's output (Build.output). */
  saveOutput(buildId: string, output: string): Promise<void>;
  /** The build failed for good: its release, if it made one and it still builds, fails with it. */
  failed(buildId: string, reason: string, output: string): Promise<void>;
}

export interface ReleaseStore {
  find(releaseId: string): Promise<Release | null>;
  /** The app's config vars now (build args of the build). */
  appConfig(appId: string): Promise<Record<string, string>>;
  /** The build's release, building; the one made before when the idempotency key is known. */
  create(input: NewRelease): Promise<Release>;
  /** The building release takes this image (a retry may have rebuilt it). */
  setImage(releaseId: string, ref: string, digest: string): Promise<void>;
  /** Its image is pushed and its release command passed: the release that carries the build. */
  built(releaseId: string): Promise<Release>;
  /** The newest release of a build: the one that carries it, once its release is built. */
  ofBuild(buildId: string): Promise<Release | null>;
}

export interface ImagePublisher {
  /** Names the built image `ref` in the local store. */
  tag(image: Image, ref: string): Promise<void>;
  /** Pushes the local `ref` to the registry. */
  push(ref: string): Promise<void>;
  /** Removes release images beyond the newest `keep` releases; the refs it removed. */
  prune(appId: string, keep: number): Promise<string[]>;
}

export interface ReleaseCommandRun {
  readonly image: string;
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly releaseId: string;
  readonly app: string;
  readonly signal?: AbortSignal;
}

export interface ReleasePhase {
  /** Runs the command to its end; its exit code. */
  run(command: ReleaseCommandRun): Promise<number>;
}

/** The build's log (build-log.ts's BuildLog writes it to the build's Redis stream). */
export interface BuildOutput {
  step(text: string): void;
  info(text: string): void;
  error(text: string): void;
  raw(chunk: Buffer): void;
  flushRaw(): void;
  /** Waits until every line is stored; throws the first write error. */
  drain(): Promise<void>;
  /** Ends the log with the build's status: followers stop there. */
  end(status: 'succeeded' | 'failed'): Promise<void>;
  /** What was written, as this process kept it. */
  readonly output: string;
  /** What the stored log holds, as Build.output keeps it. */
  stored(): Promise<string>;
}

export interface AppEvents {
  /** A line in the app's log, best effort. */
  event(appId: string, line: string): Promise<void>;
}

export interface SchedulerKick {
  askForPass(): Promise<void>;
}

export interface PushHold {
  /** Whether the push that started build `buildId` still holds it (push-lease.ts pushHeld). */
  held(buildId: string): Promise<boolean>;
}

/** What the pipeline is told rather than asks. */
export interface PipelineSettings {
  /** Checkouts are made here, one directory per build, removed when the attempt ends. */
  readonly workRoot: string;
  /** The registry release images go to, as `host:port`. */
  readonly registryHost: string;
  /** Base images of generated Dockerfiles, first found wins. Default node:20 then node:latest. */
  readonly nodeImages?: readonly string[];
  /** Base images of Python apps, first found wins. Default python:3 then python:latest. */
  readonly pythonImages?: readonly string[];
  readonly busyboxImage?: string;
  readonly keepReleases?: number;
  /** An attempt running longer fails the build as the app's own failure (not retried). */
  readonly timeoutMs?: number;
  /** How often a push's build looks whether its push still holds it (default 2 s). */
  readonly pushCheckMs?: number;
  /** `auto`: RUN steps in a user namespace, the app's range (`app-<id>`, its instances'); default `host`. */
  readonly buildUserns?: 'auto' | 'host';
}

/** Everything one build job works through. */
export interface BuildRoles {
  readonly settings: PipelineSettings;
  readonly builds: BuildRecords;
  readonly releases: ReleaseStore;
  readonly source: SourceCheckout;
  readonly baseImages: BaseImages;
  readonly builder: ImageBuilder;
  readonly publisher: ImagePublisher;
  readonly releasePhase: ReleasePhase;
  readonly log: BuildOutput;
  readonly events: AppEvents;
  readonly scheduler: SchedulerKick;
  readonly push: PushHold;
}
