/**
 * The builder: a parsed Dockerfile executed stage by stage, each step either taken from the
 * cache or run, and committed as an image of its own (dangling, kept for the cache), so the
 * next step's rootfs is just that image's snapshot chain plus a fresh upper dir.
 *
 * On a cache hit nothing is unpacked or mounted: the step costs a file read and the image's
 * manifest and config. On a miss the step mounts, runs or copies, unmounts, and diffs its
 * upper dir into one layer. Whatever fails, the step's container, mount and temp dir go.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { ensureDirMode } from '@paas/content';
import { basename, join } from 'node:path';
import {
  type AddInstruction,
  type CopyInstruction,
  type FromInstruction,
  type Instruction,
  type LabelInstruction,
  type Stage,
  type Stages,
  instructions,
  parse,
} from '@paas/dockerfile';
import type { Resources } from '@paas/engine';
import type { IdMapping } from '@paas/snapshots';
import { type Image, type ImageService, goArch } from '@paas/images';
import type { Descriptor, Digest, ImageConfig } from '@paas/oci';
import { formatReference, familiarString, parseNormalizedReference } from '@paas/oci';
import { type ImagePuller, type PullPolicy, pullableName } from './base-images';
import { BuildCache } from './build-cache';
import { BuildContext, type SourceMatch, cleanSource } from './build-context';
import { stepCacheKey } from './cache-key';
import type { SourceEntry, SourceItem } from './copy-files';
import { BuildAbortedError, BuildError, RunFailedError } from './errors';
import {
  type StageState,
  applyInstruction,
  argv,
  createdBy,
  envMap,
  resolveWorkdir,
  shellOf,
  stageBase,
  withHistory,
} from './image-config';
import { type BuildOutput, SILENT, humanSize, short } from './output';
import { bindChecksum, checkRunMounts, withRunMounts } from './run-mounts';
import { neededStages, stageIndex, stepCount, targetIndex } from './plan';
import type { RuntimeBinaries } from './run-container';
import { StepDir, removeAbandoned, type StepLayer } from './step-dir';
import type { NetworkMode, StepNetwork } from './step-network';

export interface BuildOptions {
  readonly contextDir: string;
  /** Path of the Dockerfile; default `<context>/Dockerfile`. */
  readonly dockerfile?: string;
  readonly tags?: readonly string[];
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly target?: string;
  readonly noCache?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly output?: BuildOutput;
  /**
   * Which local images FROM and COPY --from may use, given every name the image has (none for
   * an untagged one). A refused image is reported exactly as a missing one, so a build cannot
   * learn what else the store holds. Default: any. The platform refuses other apps' releases.
   */
  readonly mayUse?: (names: readonly string[]) => boolean;
  /** When FROM and COPY --from images are pulled (with BuilderOptions.puller); default `missing`. */
  readonly pull?: PullPolicy;
  /**
   * Whose `RUN --mount=type=cache` directories and step cache entries the build uses: builds
   * with different scopes never see each other's caches nor reuse each other's steps. The
   * platform passes the app; default '' (one per node).
   */
  readonly cacheScope?: string;
  /** `--network`: RUN steps on the builder's network (`default`, the default) or loopback only. */
  readonly network?: NetworkMode;
  /** RUN steps cut off from the bridge's other containers, as an app's instances (the platform's builds). */
  readonly isolated?: boolean;
  /**
   * `--userns=auto`: each RUN step in a user namespace, with the range of `key` in the
   * builder's pool (the platform gives `app-<id>`, its instances' range). The layer still
   * holds the container's ids (step-dir.ts). Where the kernel cannot idmap the step's layers,
   * or a networked step would need paas-runtime, the step runs with the host's ids, said once
   * a build (unless `requireUserns`). Default: the host's ids, as `docker build`.
   */
  readonly userns?: { readonly key: string };
  /**
   * With `userns`: a step that cannot have its user namespace fails the build, naming why,
   * instead of running with the host's ids (host root). The platform's builds: an app's code
   * never runs as host root where its instances would not (PAAS_BUILD_USERNS=auto).
   */
  readonly requireUserns?: boolean;
}

/** Where RUN steps get their user namespace ranges: the engine's pool (UsernsPool). */
export interface StepUsernsPool {
  /** The range of `key`, held by `holder` (a step) until released. */
  acquire(key: string, holder: string): Promise<IdMapping>;
  release(holder: string): Promise<void>;
  /** How often a running step renews its hold (default HOLD_RENEW_MS). */
  readonly holdRenewMs?: number;
}

export interface BuildResult {
  readonly image: Image;
  /** Full references the image was tagged with. */
  readonly tags: string[];
  /** Steps taken from the cache / run. */
  readonly cached: number;
  readonly built: number;
}

export interface BuilderOptions {
  /** PAAS_ROOT: the cache lives in `builder/`. */
  readonly root: string;
  readonly images: ImageService;
  readonly runtime: RuntimeBinaries;
  /**
   * Limits of every RUN step's container (memory, pids, cpus). None by default, as `docker
   * build`; the platform sets them, since a pushed Dockerfile may fork-bomb or eat memory.
   */
  readonly limits?: Resources;
  /** Pulls base images a build does not have; without one, builds use local images only. */
  readonly puller?: ImagePuller;
  /** The network of RUN steps (the engine's bridge); without one, every step has loopback only. */
  readonly network?: StepNetwork;
  /** User namespace ranges for builds with `userns` (the engine's pool). */
  readonly usernsPool?: StepUsernsPool;
}

/** Where a stage is: its image so far (undefined for scratch with nothing yet) and config. */
interface Head {
  image: Image | undefined;
  config: ImageConfig;
}

const METADATA = new Set<Instruction['kind']>([
  'env',
  'label',
  'cmd',
  'entrypoint',
  'user',
  'expose',
  'volume',
  'stopsignal',
  'healthcheck',
  'shell',
  'onbuild',
  'maintainer',
  'arg',
]);

/** How often a RUN step renews its hold on its range (the pool drops holds older than 10 min without a container). */
const HOLD_RENEW_MS = 60_000;

/** Whether this process warned that builds' RUN steps fell back to the host's ids. */
let warnedHostIds = false;

/** The builder's directory below a PAAS_ROOT: step cache, cache mounts; root's alone (0700). */
export function builderRootOf(root: string): string {
  return join(root, 'builder');
}

/**
 * Where RUN steps' dirs are (step-dir.ts): beside `builder/`, not in it, since a step's
 * runtime passes through as its user namespace's root: 0711, anyone may pass, no one may list
 * (as `containers/`); each step's dir lets its own range's root alone through.
 */
export function buildStepsRootOf(root: string): string {
  return join(root, 'build-steps');
}

export class Builder {
  private constructor(
    private readonly options: BuilderOptions,
    private readonly cache: BuildCache,
    private readonly tmpRoot: string,
  ) {}

  static async open(options: BuilderOptions): Promise<Builder> {
    const builderRoot = builderRootOf(options.root);
    const tmpRoot = buildStepsRootOf(options.root);
    const cache = await BuildCache.open(builderRoot); // first: it gives builderRoot its mode
    await ensureDirMode(tmpRoot, 0o711);
    const pool = options.usernsPool;
    const abandoned = {
      killContainer: async (id: string) => (await import('./run-container')).killContainer(options.runtime, id),
      ...(pool ? { release: (holder: string) => pool.release(holder) } : {}),
    };
    await removeAbandoned(join(builderRoot, 'tmp'), abandoned); // an older version's step dirs
    await removeAbandoned(tmpRoot, abandoned);
    return new Builder(options, cache, tmpRoot);
  }

  async build(options: BuildOptions): Promise<BuildResult> {
    return new Build(this.options, this.cache, this.tmpRoot, options).run();
  }
}

/** One build's state; not reused. */
class Build {
  private readonly out: BuildOutput;
  private readonly images: ImageService;
  /** Manifests the image store has a ref for: a cache entry outside it is stale. */
  private live = new Set<Digest>();
  private readonly results = new Map<number, Head>();
  private step = 0;
  private total = 0;
  private cached = 0;
  private built = 0;
  private context!: BuildContext;
  /** Pull lines of each FROM image, printed under its step as the classic builder does. */
  private readonly pulled = new Map<string, string[]>();
  /** Whether the build said its steps run with the host's ids after all (once a build). */
  private saidHostIds = false;

  constructor(
    private readonly builder: BuilderOptions,
    private readonly cache: BuildCache,
    private readonly tmpRoot: string,
    private readonly options: BuildOptions,
  ) {
    this.out = options.output ?? SILENT;
    this.images = builder.images;
  }

  async run(): Promise<BuildResult> {
    const { options } = this;
    const tags = (options.tags ?? []).map((t) => formatReference(parseNormalizedReference(t)));
    const dockerfilePath = options.dockerfile ?? join(options.contextDir, 'Dockerfile');
    this.context = await BuildContext.open(options.contextDir);
    // -f names a file of the caller's choosing; the default one is the context's, read inside it
    const text = options.dockerfile
      ? await readFile(options.dockerfile, 'utf8').catch(() => undefined)
      : this.context.readFile('Dockerfile');
    if (text === undefined) {
      throw new BuildError(`Cannot locate specified Dockerfile: ${options.dockerfile ?? 'Dockerfile'}`);
    }
    const tree = parse(text, { file: options.dockerfile ? dockerfilePath : 'Dockerfile' });
    const buildArgs = { ...(options.buildArgs ?? {}) };
    const draft = instructions(tree, { buildArgs });
    const target = targetIndex(draft, options.target);
    const needed = neededStages(draft, target);

    const entries = await this.images.refs.list();
    this.live = new Set(entries.map((e) => e.manifest.digest));
    const bases = new Map<string, Image>();
    for (const i of needed) {
      const from = draft.stages[i]?.from;
      if (!from || from.stage !== undefined || from.image.toLowerCase() === 'scratch') continue;
      if (bases.has(from.image)) continue;
      const lines: string[] = [];
      this.pulled.set(from.image, lines);
      bases.set(from.image, await this.resolveLocal(from.image, entries, (line) => lines.push(line)));
    }
    const stages = instructions(tree, {
      buildArgs,
      imageEnv: (from) => Object.fromEntries(envMap(bases.get(from.image)?.config.config?.Env)),
    });
    this.total = stepCount(stages, needed);

    const onProgress = this.out.progress;
    const scanned = this.context.scan(
      onProgress && ((p) => onProgress(`Sending build context to Docker daemon  ${humanSize(p.bytes)}`)),
    );
    this.out.line(`Sending build context to Docker daemon  ${humanSize(scanned.bytes)}`);

    for (const index of needed) {
      const stage = stages.stages[index];
      if (stage) await this.runStage(stages, stage, bases);
    }
    let head = this.results.get(target);
    if (!head) throw new Error('internal: target stage produced nothing');
    if (options.labels && Object.keys(options.labels).length > 0) {
      const label: LabelInstruction = {
        kind: 'label',
        location: { file: '--label', startLine: 0, endLine: 0, column: 0 },
        original: 'LABEL',
        pairs: Object.entries(options.labels).map(([key, value]) => ({ key, value })),
      };
      head = await this.metadataStep(head, label, { cmdSet: true }, {}, true);
    }
    const image = head.image ?? (await this.commitHead(head, []));
    this.warnUnusedArgs(stages, needed);
    this.out.line(`Successfully built ${short(image.id)}`);
    const descriptor = await this.images.manifestDescriptor(image);
    for (const tag of tags) {
      await this.images.refs.set(tag, descriptor);
      this.out.line(`Successfully tagged ${familiarString(parseNormalizedReference(tag))}`);
    }
    return { image, tags, cached: this.cached, built: this.built };
  }

  /**
   * A local image by name (one read of the refs) or, failing that, by id or prefix; pulled
   * when missing (or always) if the build has a puller. The image policy is asked about the
   * name before a pull, and a refused image is reported exactly as a missing one.
   */
  private async resolveLocal(
    name: string,
    entries: Awaited<ReturnType<ImageService['refs']['list']>>,
    line: (text: string) => void = (text) => this.out.line(text),
  ): Promise<Image> {
    const { puller } = this.builder;
    const policy = this.options.pull ?? 'missing';
    const full = pullableName(name);
    if (!puller || policy !== 'always' || !full) {
      const image = await this.findLocal(name, entries);
      const names = entries.flatMap((e) => (e.name && e.manifest.digest === image?.manifestDigest ? [e.name] : []));
      if (image && (!this.options.mayUse || this.options.mayUse(names))) return image;
    }
    if (!puller || policy === 'never' || !full || (this.options.mayUse && !this.options.mayUse([full]))) {
      throw new BuildError(
        puller
          ? `pull access denied for ${name}: image not found locally${policy === 'never' ? ' and --pull never' : ''}`
          : `pull access denied for ${name}: image not found locally and builds here do not pull (use paas load or paas image bootstrap)`,
      );
    }
    try {
      return await puller.pull(full, line);
    } catch (err) {
      throw new BuildError((err as Error).message);
    }
  }

  private async findLocal(
    name: string,
    entries: Awaited<ReturnType<ImageService['refs']['list']>>,
  ): Promise<Image | undefined> {
    try {
      const full = formatReference(parseNormalizedReference(name));
      const entry = entries.find((e) => e.name === full);
      const image = entry && (await this.images.load(entry.manifest.digest, [full]));
      if (image) return image;
    } catch {
      // not a name: an id, tried below
    }
    return this.images.resolve(name).catch(() => undefined);
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) throw new BuildAbortedError();
  }

  private announce(original: string): void {
    this.step++;
    this.out.line(`Step ${this.step}/${this.total} : ${original}`);
  }

  private async runStage(stages: Stages, stage: Stage, bases: Map<string, Image>): Promise<void> {
    this.checkAbort();
    const from: FromInstruction = stage.from;
    this.announce(from.original);
    if (from.stage === undefined) for (const line of this.pulled.get(from.image) ?? []) this.out.line(line);
    this.pulled.delete(from.image);
    let base: Image | undefined;
    if (from.stage !== undefined) base = this.results.get(from.stage)?.image;
    else if (from.image.toLowerCase() !== 'scratch') base = bases.get(from.image);
    if (base) this.out.line(` ---> ${short(base.id)}`);
    if (base?.config.config?.OnBuild?.length) {
      this.out.line(`[Warning] ${base.config.config.OnBuild.length} ONBUILD triggers of the base image were not run`);
    }
    const baseConfig = stageBase(base?.config);
    if (!base) baseConfig.architecture = goArch();
    let head: Head = { image: base, config: baseConfig };
    const state: StageState = { cmdSet: false };
    const args: Record<string, string> = {};
    for (const instruction of stage.instructions) {
      this.checkAbort();
      this.announce(instruction.original);
      if (instruction.kind === 'arg') {
        for (const a of instruction.args) if (a.value !== undefined) args[a.key] = a.value;
      }
      if (instruction.kind === 'cmd') state.cmdSet = true;
      if (METADATA.has(instruction.kind)) head = await this.metadataStep(head, instruction, state, args, false);
      else head = await this.filesystemStep(stages, stage, head, instruction, args);
    }
    this.results.set(stage.index, head);
  }

  /** A cache hit, or undefined. A hit whose image was pruned is a miss (and is forgotten). */
  private async lookup(key: string): Promise<Image | undefined> {
    if (this.options.noCache) return undefined;
    const entry = await this.cache.get(key);
    if (!entry) return undefined;
    const image = this.live.has(entry.manifest) ? await this.images.load(entry.manifest) : undefined;
    if (!image) await this.cache.delete(key);
    return image;
  }

  private hit(image: Image): Head {
    this.cached++;
    this.out.line(' ---> Using cache');
    this.out.line(` ---> ${short(image.id)}`);
    return { image, config: image.config };
  }

  private async commitHead(head: Head, extra: Descriptor[]): Promise<Image> {
    const image = await this.images.commit(head.config, [...(head.image?.manifest.layers ?? []), ...extra]);
    this.live.add(image.manifestDigest);
    return image;
  }

  private async remember(key: string, image: Image): Promise<void> {
    await this.cache.put(key, { manifest: image.manifestDigest, image: image.id });
  }

  private async metadataStep(
    head: Head,
    instruction: Instruction,
    state: StageState,
    args: Record<string, string>,
    silent: boolean,
  ): Promise<Head> {
    const key = stepCacheKey({ parent: head.image?.id, instruction, args, scope: this.options.cacheScope });
    const hit = await this.lookup(key);
    if (hit) return silent ? { image: hit, config: hit.config } : this.hit(hit);
    const config = applyInstruction(head.config, instruction, { ...state });
    const created = new Date().toISOString();
    const next = withHistory(config, { created, created_by: createdBy(instruction, config.config) });
    const image = await this.commitHead({ image: head.image, config: next }, []);
    await this.remember(key, image);
    if (!silent) {
      const id = short(randomHex());
      this.out.line(` ---> Running in ${id}`);
      this.out.line(`Removing intermediate container ${id}`);
      this.out.line(` ---> ${short(image.id)}`);
      this.built++;
    }
    return { image, config: image.config };
  }

  private async filesystemStep(
    stages: Stages,
    stage: Stage,
    head: Head,
    instruction: Instruction,
    args: Record<string, string>,
  ): Promise<Head> {
    let sources: string | undefined;
    let fromImage: Image | undefined;
    let items: (() => Promise<SourceItem[]>) | undefined;
    if (instruction.kind === 'copy' || instruction.kind === 'add') {
      const copy = instruction;
      for (const s of copy.sources) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
          throw new BuildError(
            `${copy.kind.toUpperCase()} failed: cannot fetch ${s}: remote sources are not supported here; download it into the build context and ADD the local file`,
          );
        }
      }
      if (copy.kind === 'copy' && copy.from !== undefined) {
        fromImage = await this.copySourceImage(stages, stage, copy);
      } else {
        const matches = this.context.resolve(copy.sources, copy.kind.toUpperCase());
        sources = this.context.checksum(matches);
        items = async () => [...matches.map((m) => this.contextItem(m)), ...heredocItems(copy)];
      }
    } else if (instruction.kind === 'run') {
      // what a bind mount shows is an input of the step, as copied files are
      sources = bindChecksum(checkRunMounts(instruction.mounts, this.context), this.context);
    }
    const key = stepCacheKey({
      parent: head.image?.id,
      instruction,
      args,
      sources,
      from: fromImage?.id,
      scope: this.options.cacheScope,
    });
    const hit = await this.lookup(key);
    if (hit) return this.hit(hit);

    // Loaded on a miss only: a fully cached build never needs the executor (or the engine).
    const exec = await import('./execute-step');
    const step = await StepDir.create(this.tmpRoot);
    let layer: StepLayer | undefined;
    let config = head.config;
    let copied = '';
    try {
      if (instruction.kind === 'run') {
        this.out.line(` ---> Running in ${short(step.id)}`);
        const shell = shellOf(config.config);
        const command = argv(instruction.command, shell);
        const withDocs = heredocCommand(instruction, command, shell);
        const env = envMap(config.config?.Env);
        const extraEnv = Object.entries(args)
          .filter(([k]) => !env.has(k))
          .map(([k, v]) => `${k}=${v}`);
        const mountContext = {
          builderRoot: join(this.builder.root, 'builder'),
          scope: this.options.cacheScope ?? '',
          context: this.context,
          workdir: config.config?.WorkingDir,
        };
        const stageBind = async (match: SourceMatch, index: number): Promise<string> => {
          const dir = join(step.dir, 'mounts', String(index));
          await mkdir(dir, { recursive: true });
          await exec.copyInto(dir, [this.contextItem(match)], {
            instruction: 'COPY',
            dest: '/',
            workdir: '/',
            unpack: false,
          });
          return match.entry.type === 'dir' ? dir : join(dir, match.entry.rel.split('/').pop() || '.');
        };
        const network = this.builder.network && this.options.network !== 'none' ? this.builder.network : undefined;
        const code = await this.withStepUserns(step.containerId, network !== undefined, (userns, lost) =>
          withRunMounts(instruction.mounts, mountContext, stageBind, (mounts) =>
            step.withRootfs(
              this.images,
              head.image,
              async (_rootfs, used) =>
                exec.runInContainer(this.builder.runtime, {
                  step,
                  config,
                  argv: withDocs,
                  env: extraEnv,
                  mounts: used ? await step.idmappedViews(mounts, used) : mounts,
                  ...(network ? { network } : {}),
                  isolated: this.options.isolated ?? false,
                  ...(this.builder.limits ? { resources: this.builder.limits } : {}),
                  ...stepSignal(this.options.signal, lost),
                  ...(used ? { userns: used, ownRoot: this.builder.root } : {}),
                  onOutput: (chunk) => this.out.raw(chunk),
                }),
              {
                ...(userns ? { userns } : {}),
                onRefused: (err) => this.hostIds(`the kernel refuses idmapped layers here (${err.message})`),
              },
            ),
          ),
        );
        if (code !== 0) throw new RunFailedError(command.join(' '), code);
        this.out.line(`Removing intermediate container ${short(step.id)}`);
        layer = await step.commitLayer(this.images);
      } else if (instruction.kind === 'workdir') {
        config = applyInstruction(config, instruction, { cmdSet: false });
        const dir = resolveWorkdir(config.config?.WorkingDir, '.');
        await step.withRootfs(this.images, head.image, async (rootfs) => {
          exec.createWorkdir(rootfs, dir);
        });
        if (step.changed()) layer = await step.commitLayer(this.images);
      } else if (instruction.kind === 'copy' || instruction.kind === 'add') {
        const copy = instruction;
        const opts = {
          instruction: copy.kind === 'copy' ? ('COPY' as const) : ('ADD' as const),
          dest: copy.dest,
          workdir: config.config?.WorkingDir,
          ...(copy.chown !== undefined ? { chown: copy.chown } : {}),
          ...(copy.chmod !== undefined ? { chmod: copy.chmod } : {}),
          unpack: copy.kind === 'add' && copy.unpack !== false,
        };
        await step.withRootfs(this.images, head.image, async (rootfs) => {
          if (fromImage) {
            await step.withSource(this.images, fromImage, async (root) =>
              exec.copyInto(rootfs, exec.imageTree(root, copy.sources, copy.kind), opts),
            );
          } else await exec.copyInto(rootfs, items ? await items() : [], opts);
        });
        copied = copiedComment(copy, sources ?? fromImage?.id ?? '');
        layer = await step.commitLayer(this.images);
      } else {
        throw new BuildError(`${instruction.original}: not supported`);
      }
    } finally {
      await step.dispose();
    }
    this.checkAbort();
    const created = new Date().toISOString();
    const runArgs = instruction.kind === 'run' ? args : undefined;
    const next = withHistory(
      config,
      { created, created_by: createdBy(instruction, config.config, { ...(runArgs ? { args: runArgs } : {}), copied }) },
      layer?.diffId,
    );
    const image = await this.commitHead({ image: head.image, config: next }, layer ? [layer.descriptor] : []);
    await this.remember(key, image);
    this.built++;
    this.out.line(` ---> ${short(image.id)}`);
    return { image, config: image.config };
  }

  /**
   * Runs `fn` with the step's user namespace range (held for the step, released after it), or
   * none: a build without `userns`, or a networked step under a runtime other than
   * paas-runtime (runc and crun cannot join the bridge from a user namespace; the engine
   * refuses them there too), which then runs with the host's ids and says so.
   */
  private async withStepUserns<T>(
    holder: string,
    networked: boolean,
    fn: (userns: IdMapping | undefined, lost?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const wanted = this.options.userns;
    if (!wanted) return fn(undefined);
    const pool = this.builder.usernsPool;
    if (!pool) throw new BuildError('--userns=auto: this builder has no user namespace pool');
    const runtime = basename(this.builder.runtime.runtime);
    if (networked && runtime !== 'paas-runtime') {
      this.hostIds(`a RUN step on the network needs paas-runtime for a user namespace, not ${runtime} (PAAS_RUNTIME)`);
      return fn(undefined);
    }
    const range = await pool.acquire(wanted.key, holder);
    // the pool drops holds it sees no container for after a while (a crashed engine's): a
    // long step (npm ci) renews its hold, and the last renewal ends before the release. A
    // renewal that finds the key on another range means the hold was lost and this range
    // may be another key's now: the step stops, its ids could be someone else's.
    const lost = new AbortController();
    let lostWhy: string | undefined;
    let renewing: Promise<unknown> = Promise.resolve();
    const renew = setInterval(() => {
      renewing = renewing
        .then(async () => {
          const now = await pool.acquire(wanted.key, holder);
          if (now.hostId === range.hostId || lostWhy) return;
          lostWhy =
            `the RUN step lost its user namespace range (host ids ${range.hostId}.., now ${now.hostId}.. for ` +
            `${wanted.key}): it was stopped, its ids could be another's`;
          lost.abort();
        })
        .catch(() => undefined);
    }, pool.holdRenewMs ?? HOLD_RENEW_MS);
    renew.unref();
    try {
      return await fn(range, lost.signal);
    } catch (err) {
      throw lostWhy ? new BuildError(lostWhy) : err;
    } finally {
      clearInterval(renew);
      await renewing;
      await pool.release(holder);
    }
  }

  /**
   * Says once a build (and once a process, as a warning) that RUN steps run with the host's
   * ids; a build that requires its user namespace fails instead.
   */
  private hostIds(why: string): void {
    if (this.options.requireUserns) {
      throw new BuildError(
        `RUN steps must run in a user namespace here, and cannot: ${why}; ` +
          "set PAAS_BUILD_USERNS=host to build with the host's ids",
      );
    }
    if (this.saidHostIds) return;
    this.saidHostIds = true;
    const message = `--userns=auto: ${why}: RUN steps run with the host's ids`;
    this.out.line(`[Warning] ${message}`);
    if (!warnedHostIds) {
      warnedHostIds = true;
      process.emitWarning(message, 'UsernsWarning');
    }
  }

  /** A context source as the copier takes it: the match and everything kept below it. */
  private contextItem(m: SourceMatch): SourceItem {
    return {
      name: m.entry.rel.split('/').pop() || '.',
      type: m.entry.type,
      entries: [...this.context.tree(m)].map((e): SourceEntry => ({
        path: e.rel === m.entry.rel ? '' : e.rel.slice(m.entry.rel === '' ? 0 : m.entry.rel.length + 1),
        abs: e.abs,
        type: e.type,
        mode: e.mode,
        mtimeMs: e.mtimeMs,
      })),
    };
  }

  /** The image a `COPY --from` reads: an earlier stage's result, or a local image. */
  private async copySourceImage(stages: Stages, stage: Stage, copy: CopyInstruction): Promise<Image> {
    const from = copy.from ?? '';
    const index = stageIndex(stages.stages, from, stage.index);
    if (index !== undefined) {
      const head = this.results.get(index);
      if (!head) throw new BuildError(`COPY --from=${from}: stage ${from} was not built`);
      return head.image ?? (await this.commitHead(head, []));
    }
    return this.resolveLocal(from, await this.images.refs.list());
  }

  private warnUnusedArgs(stages: Stages, needed: readonly number[]): void {
    const declared = new Set<string>();
    for (const meta of stages.metaArgs) for (const a of meta.args) declared.add(a.key);
    for (const i of needed) {
      for (const instruction of stages.stages[i]?.instructions ?? []) {
        if (instruction.kind === 'arg') for (const a of instruction.args) declared.add(a.key);
      }
    }
    const unused = Object.keys(this.options.buildArgs ?? {}).filter((k) => !declared.has(k));
    if (unused.length) this.out.line(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
  }
}

/** A RUN step's abort signal: the build's, and its range's loss (withStepUserns). */
function stepSignal(build: AbortSignal | undefined, lost: AbortSignal | undefined): { signal?: AbortSignal } {
  if (!lost) return build ? { signal: build } : {};
  return { signal: build ? AbortSignal.any([build, lost]) : lost };
}

function randomHex(): string {
  return [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Inline files of `COPY <<EOF /dest`. */
function heredocItems(copy: CopyInstruction | AddInstruction): SourceItem[] {
  return copy.contents.map((doc) => ({ name: doc.name, type: 'file' as const, entries: [], content: doc.content }));
}

/**
 * `RUN <<EOF` as BuildKit runs it: a heredoc on the command's stdin is a script the shell
 * reads; with the shell form, the heredoc bodies are appended so `sh -c` sees the document.
 */
function heredocCommand(
  run: Extract<Instruction, { kind: 'run' }>,
  command: string[],
  shell: readonly string[],
): string[] {
  if (run.heredocs.length === 0 || !('shell' in run.command)) return command;
  const script = run.command.shell.trim();
  const [first] = run.heredocs;
  if (first && /^\d*<<-?['"]?\w+['"]?$/.test(script)) return [...shell, first.content];
  let text = run.command.shell;
  for (const doc of run.heredocs) text += `\n${doc.content}${doc.name}`;
  return [...shell, text];
}

/** `file:<hash>`, `dir:<hash>` or `multi:<hash>` as the classic builder's history shows. */
function copiedComment(copy: CopyInstruction | AddInstruction, hash: string): string {
  const hex = hash.replace(/^sha256:/, '');
  const count = copy.sources.length + copy.contents.length;
  if (count > 1) return `multi:${hex}`;
  const only = copy.sources[0];
  return `${only !== undefined && cleanSource(only) === '' ? 'dir' : 'file'}:${hex}`;
}
