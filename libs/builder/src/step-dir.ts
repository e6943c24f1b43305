/**
 * A build step's scratch space: `$PAAS_ROOT/build-steps/<pid>-<id>/` with the overlay's
 * upper and work dirs (in `layer/`), the mount point and the OCI bundle. Nothing in it outlives the step:
 * `dispose` unmounts and removes it whatever happened, and `removeAbandoned` clears what a
 * killed build (SIGKILL, power loss) left, including its runtime container.
 *
 * The layer a step makes is the diff of its upper dir, so it holds exactly what the step
 * changed (whiteouts and opaque dirs included), however big the parent image is.
 *
 * A RUN step in a user namespace mounts its overlay with idmapped layers AND an idmapped
 * upper (mountIdmappedOverlay): the image's files are the namespace's, and what the step
 * writes lands with the container's own ids (root's are 0), so its layer carries no host
 * ids. Its bind sources (cache directories, context files) are idmapped views under
 * `views/`, as the engine's volumes are, unmounted with the step whatever happened.
 *
 * Who reaches what by path: the dir is root's 0700; for a step in a user namespace it is
 * root:<range> 0710 (`openTo`), since the runtime, as the namespace's root, binds the rootfs
 * and the mount sources by path. `layer/` stays root's 0700 whatever: the upper holds real
 * uid 0 files (setuid root, capabilities) that only the overlay (the mounter's credentials)
 * and the builder may reach, not an escaped process of any range, not even the step's own.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isProcessAlive } from '@paas/content';
import type { Image, ImageService } from '@paas/images';
import type { SpecMount } from '@paas/engine';
import { diffUpperDir } from '@paas/layers';
import type { Descriptor, Digest } from '@paas/oci';
import {
  type IdMapping,
  IdmapRefusedError,
  mountIdmappedBind,
  mountIdmappedOverlay,
  mountPointsBelow,
  overlayMount,
  readonlyOverlayMount,
  unmount,
  withMounted,
} from '@paas/snapshots';

export interface StepLayer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

export class StepDir {
  readonly rootfs: string;
  /** Holds upper and work: root's 0700 (see above). */
  readonly layer: string;
  readonly upper: string;
  readonly work: string;
  /** A lower dir for `FROM scratch` (overlay needs at least one). */
  readonly empty: string;
  /** Idmapped views of the step's bind sources (a step in a user namespace). */
  readonly views: string;
  /** The user namespace the rootfs was last mounted for (its upper idmapped), if any. */
  private idmapped: IdMapping | undefined;

  private constructor(
    readonly dir: string,
    /** 64 hex digits: the step's container id ("Running in" shows the first 12). */
    readonly id: string,
  ) {
    this.rootfs = join(dir, 'rootfs');
    this.layer = join(dir, 'layer');
    this.upper = join(this.layer, 'upper');
    this.work = join(this.layer, 'work');
    this.empty = join(dir, 'empty');
    this.views = join(dir, 'views');
  }

  static async create(tmpRoot: string): Promise<StepDir> {
    const id = randomBytes(32).toString('hex');
    const step = new StepDir(join(tmpRoot, `${process.pid}-${id.slice(0, 12)}`), id);
    await mkdir(tmpRoot, { recursive: true });
    await mkdir(step.dir, { mode: 0o700 });
    await mkdir(step.layer, { mode: 0o700 });
    await Promise.all([step.rootfs, step.upper, step.work, step.empty].map((d) => mkdir(d)));
    return step;
  }

  /**
   * Lets the root of `userns` (and no other uid) pass the step dir: root:<hostId> 0710. The
   * runtime opens the rootfs and the mount sources by path as that root; `layer/` stays closed.
   */
  async openTo(userns: IdMapping): Promise<void> {
    await chown(this.dir, 0, userns.hostId);
    await chmod(this.dir, 0o710);
  }

  /** The runtime's name for the step's container. */
  get containerId(): string {
    return `build-${this.id.slice(0, 12)}`;
  }

  /**
   * Mounts parent image + this step's upper at `rootfs` for the time of `fn`. With `userns`,
   * idmapped for that namespace (see above); where the kernel refuses, `onRefused` hears why
   * and the step gets a plain overlay: `fn` is told which it got.
   */
  async withRootfs<T>(
    images: ImageService,
    parent: Image | undefined,
    fn: (rootfs: string, userns: IdMapping | undefined) => Promise<T>,
    options: { readonly userns?: IdMapping; readonly onRefused?: (err: Error) => void } = {},
  ): Promise<T> {
    const lowers =
      parent && parent.manifest.layers.length > 0
        ? await images.snapshots.lowerDirs(await images.unpack(parent))
        : [this.empty];
    const { userns } = options;
    if (!userns) return withMounted(overlayMount(lowers, this.upper, this.work), this.rootfs, (r) => fn(r, undefined));
    try {
      await mountIdmappedOverlay(lowers, this.upper, this.work, this.rootfs, userns, { idmappedUpper: true });
    } catch (err) {
      if (!(err instanceof IdmapRefusedError)) throw err;
      options.onRefused?.(err);
      return withMounted(overlayMount(lowers, this.upper, this.work), this.rootfs, (r) => fn(r, undefined));
    }
    this.idmapped = userns;
    try {
      return await fn(this.rootfs, userns);
    } finally {
      await unmount(this.rootfs);
    }
  }

  /**
   * The step's bind mounts as a container in `userns` gets them: each source seen through an
   * idmapped bind under `views/`, so a file owned by id N on disk is N inside (a cache
   * directory keeps container ids on disk, whatever range a step has, as a volume does).
   */
  async idmappedViews(mounts: readonly SpecMount[], userns: IdMapping): Promise<SpecMount[]> {
    const out: SpecMount[] = [];
    for (const m of mounts) {
      if (m.type !== 'bind' || m.source === undefined) {
        out.push(m);
        continue;
      }
      await mkdir(this.views, { recursive: true });
      const view = join(this.views, String(out.length));
      // a bind's target is of the source's kind: a file's view is a file
      if (statSync(m.source).isDirectory()) await mkdir(view);
      else await writeFile(view, '');
      await mountIdmappedBind(m.source, view, userns);
      out.push({ ...m, source: view });
    }
    return out;
  }

  /** Whether the step changed anything at all. */
  changed(): boolean {
    return readdirSync(this.upper).length > 0;
  }

  /** Packs the upper dir into a gzip layer in the content store. */
  async commitLayer(images: ImageService): Promise<StepLayer> {
    const pipe = new PassThrough();
    const opts = this.idmapped ? { hostRootAs: this.idmapped.size } : {};
    const [layer, blob] = await Promise.all([diffUpperDir(this.upper, pipe, opts), images.content.write(pipe)]);
    if (layer.digest !== blob.digest) throw new Error(`layer digest ${layer.digest} != stored ${blob.digest}`);
    return { descriptor: { mediaType: layer.mediaType, digest: blob.digest, size: blob.size }, diffId: layer.diffId };
  }

  async dispose(): Promise<void> {
    await unmount(this.rootfs).catch(() => undefined);
    await unmount(join(this.dir, 'source')).catch(() => undefined);
    // a view still mounted would let rm reach into a cache directory: then the dir stays
    const views = await readdir(this.views).catch(() => [] as string[]);
    for (const view of views) await unmount(join(this.views, view));
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Where a `COPY --from` image is mounted read-only for the step. */
  async withSource<T>(images: ImageService, source: Image, fn: (root: string) => Promise<T>): Promise<T> {
    const target = join(this.dir, 'source');
    await mkdir(target, { recursive: true });
    if (source.manifest.layers.length === 0) return fn(this.empty);
    const lowers = await images.snapshots.lowerDirs(await images.unpack(source));
    return withMounted(readonlyOverlayMount(lowers), target, fn);
  }
}

/** What removeAbandoned needs of the runtime and the range pool. */
export interface AbandonedSteps {
  /** Kills and deletes a step's container; whether it is gone (dead) now. */
  readonly killContainer: (id: string) => Promise<boolean>;
  /** Gives back the range a step's container held (its holder is the container's id). */
  readonly release?: (holder: string) => Promise<void>;
  readonly warn?: (message: string) => void;
}

/**
 * Removes step dirs of builds that died without cleaning up: their runtime containers
 * (deleted with `kill`), their holds on a user namespace range (only once the container is
 * dead: its processes run with that range's ids), every mount below them, then the dirs. A
 * container that will not die, or a mount that will not go, keeps its dir for the next time:
 * rm through a still mounted cache view would empty the app's cache directory.
 */
export async function removeAbandoned(tmpRoot: string, steps: AbandonedSteps): Promise<void> {
  const warn = steps.warn ?? ((message: string) => process.emitWarning(message, 'BuilderWarning'));
  let names: string[];
  try {
    names = readdirSync(tmpRoot);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(\d+)-([0-9a-f]{12})$/.exec(name);
    if (!m || isProcessAlive(Number(m[1]))) continue;
    const dir = join(tmpRoot, name);
    const id = `build-${m[2]}`;
    if (!(await steps.killContainer(id).catch(() => false))) {
      warn(`abandoned build step ${id}: its container would not die; its range and ${dir} are kept`);
      continue;
    }
    await steps.release?.(id);
    for (const target of await mountPointsBelow(dir)) await unmount(target).catch(() => undefined);
    const left = await mountPointsBelow(dir);
    if (left.length > 0) {
      warn(`abandoned build step ${dir}: still mounted (${left.join(', ')}): not removed`);
      continue;
    }
    await rm(dir, { recursive: true, force: true });
  }
}
