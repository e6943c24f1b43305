/**
 * Mount specs and the one place that mounts them. Snapshotters return specs; callers mount
 * and always unmount (`withMounted`), as containerd's snapshotters do. The syscalls go
 * through native/fsx: spawning mount(8) cost more than the rest of a container start.
 */
import { accessSync, closeSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { MountFlags, fsx } from '@paas/layers';
import { PaasError } from '@paas/errors';
import { type IdMapping, idmapCache } from './idmap-cache';

export interface Mount {
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

/** The kernel takes mount data of at most one page. */
const MOUNT_DATA_MAX = 4095;

export class MountError extends PaasError {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super('internal', `mount ${target}: ${message}`);
  }
}

/** An overlay of `lowerDirs` (top first) with a private upper and work dir. */
export function overlayMount(lowerDirs: readonly string[], upperDir: string, workDir: string): Mount {
  if (lowerDirs.length === 0) throw new Error('overlay needs at least one lower dir');
  for (const dir of [...lowerDirs, upperDir, workDir]) {
    if (/[,:]/.test(dir)) throw new Error(`overlay path ${JSON.stringify(dir)} contains ',' or ':'`);
  }
  return {
    type: 'overlay',
    source: 'overlay',
    // redirect_dir and metacopy would record renames and metadata-only copies in ways a tar
    // layer cannot express; with them off, the upper dir is always a plain diff.
    options: [
      `lowerdir=${lowerDirs.join(':')}`,
      `upperdir=${upperDir}`,
      `workdir=${workDir}`,
      'index=off',
      'redirect_dir=off',
      'metacopy=off',
    ],
  };
}

/**
 * A read-only overlay of lower dirs alone (inspecting an image without a container): nosuid
 * and nodev, as an image's setuid files and device nodes mean nothing to the host.
 */
export function readonlyOverlayMount(lowerDirs: readonly string[]): Mount {
  if (lowerDirs.length === 1)
    return { type: 'bind', source: lowerDirs[0] ?? '', options: ['bind', 'ro', 'nosuid', 'nodev'] };
  return { type: 'overlay', source: 'overlay', options: [`lowerdir=${lowerDirs.join(':')}`, 'nosuid', 'nodev'] };
}

/** Options that are mount flags, not file system data. */
const FLAG_OPTIONS: Readonly<Record<string, number>> = {
  ro: MountFlags.RDONLY,
  nosuid: MountFlags.NOSUID,
  nodev: MountFlags.NODEV,
};

export async function mount(spec: Mount, target: string): Promise<void> {
  const data = spec.options.filter((o) => o !== 'bind' && !(o in FLAG_OPTIONS)).join(',');
  const flags = spec.options.reduce((f, o) => f | (FLAG_OPTIONS[o] ?? 0), 0);
  if (data.length > MOUNT_DATA_MAX) {
    throw new MountError(target, `mount options are ${data.length} bytes, more than the kernel's ${MOUNT_DATA_MAX}`);
  }
  const sys = fsx();
  try {
    if (spec.type === 'bind') {
      sys.mount(spec.source, target, null, MountFlags.BIND | MountFlags.REC, null);
      // a bind's flags take a remount
      if (flags) sys.mount('', target, null, MountFlags.BIND | MountFlags.REMOUNT | flags, null);
    } else {
      sys.mount(spec.source, target, spec.type, flags, data);
    }
  } catch (err) {
    if (spec.type === 'bind') await unmount(target).catch(() => undefined);
    throw new MountError(target, (err as Error).message);
  }
}

/**
 * The kernel (or the file system of the layers) refuses idmapped mounts: the caller may fall
 * back to a copy of the layers owned by the namespace's ids.
 */
export class IdmapRefusedError extends MountError {}

/** Errnos of a kernel or file system that cannot idmap a mount (rather than a bad path). */
const IDMAP_REFUSALS = new Set(['EINVAL', 'EPERM', 'ENOSYS', 'EOPNOTSUPP']);

/** The largest host id + 1 a mapping may reach: (uid_t)-1 is "no id". */
const ID_LIMIT = 2 ** 32 - 1;

/**
 * Refuses a mapping the kernel would refuse (or the addon would wrap: -1 is 4294967295 to
 * it) before anything is made: with EINVAL from the kernel it would pass for a file system
 * that cannot idmap, and a copy would be made instead. Host root (0) is never mapped.
 */
function checkMapping(target: string, mapping: IdMapping): void {
  const { hostId, size } = mapping;
  if (!Number.isInteger(hostId) || hostId < 1 || !Number.isInteger(size) || size < 1 || hostId + size > ID_LIMIT)
    throw new MountError(
      target,
      `invalid id mapping ${String(hostId)}:${String(size)}: hostId must be an integer >= 1, size >= 1, ` +
        `and hostId + size at most ${ID_LIMIT}`,
    );
}

/**
 * The overlay of a container in a user namespace: the same shared lower dirs, each seen
 * through an idmapped mount, so the namespace's root owns the image's files and no layer is
 * copied or chowned. Why the lowers and not the merged dir: overlayfs refuses to be idmapped
 * itself (mount_setattr says EINVAL on 6.18), while its layers may be. The upper dir stays
 * plain (overlay creates its work dir there as the mounter, host root, which an idmapped
 * upper cannot map): what the container writes lands with its host ids (hostId..), as with
 * Docker's userns-remap, and the upper's root is given to the namespace's root so that it
 * can create files at the top. The idmapped lowers are never attached: overlay opens them
 * through /proc/self/fd/N and keeps its own private clones, so nothing is left to unmount,
 * and the next container of the same range and layers reuses them (idmap-cache.ts).
 *
 * `idmappedUpper` (a build step's overlay, whose upper dir becomes a layer): the upper and
 * work dirs, siblings under one parent, are idmapped too, so what the container writes lands
 * with its own ids on disk (its root's files are 0) instead of host ids. Their mapping also
 * maps the host's root, to the id `size` (outside the container's ids): overlay makes its
 * work dir, copy-up temp files and whiteouts as the mounter, and a mapping without host root
 * refuses that (EOVERFLOW, and overlay falls back to read-only). Copy-up then chowns to the
 * lower's owner, so only whiteouts keep that id (the layer's tar does not store it).
 */
export async function mountIdmappedOverlay(
  lowerDirs: readonly string[],
  upperDir: string,
  workDir: string,
  target: string,
  mapping: IdMapping,
  options: { readonly idmappedUpper?: boolean } = {},
): Promise<void> {
  checkMapping(target, mapping);
  const parent = dirname(upperDir);
  if (options.idmappedUpper && dirname(workDir) !== parent)
    throw new MountError(target, `an idmapped upper needs its work dir beside it: ${upperDir}, ${workDir}`);
  const lease = idmapCache.lease();
  const fds: number[] = [];
  let upperTree: number | undefined;
  let upper = upperDir;
  let work = workDir;
  try {
    try {
      for (const dir of lowerDirs) fds.push(lease.tree(dir, mapping));
      if (options.idmappedUpper) {
        // the step's own, written to: made for this mount alone, never cached
        upperTree = fsx().idmapTree(parent, lease.userns(mapping, mapping.size), false);
        upper = `/proc/self/fd/${upperTree}/${basename(upperDir)}`;
        work = `/proc/self/fd/${upperTree}/${basename(workDir)}`;
      }
    } catch (err) {
      const refused = IDMAP_REFUSALS.has((err as NodeJS.ErrnoException).code ?? '');
      throw new (refused ? IdmapRefusedError : MountError)(target, `idmapped layers: ${(err as Error).message}`);
    }
    await mount(
      overlayMount(
        fds.map((fd) => `/proc/self/fd/${fd}`),
        upper,
        work,
      ),
      target,
    );
    // an old kernel mounts an overlay whose work dir it could not make read-only, and says so
    // only in its log: a step would fail with EROFS at its first write
    if (options.idmappedUpper && !isWritable(target)) {
      await unmount(target);
      throw new IdmapRefusedError(target, 'idmapped upper dir: overlay mounted it read-only');
    }
  } finally {
    if (upperTree !== undefined) closeSync(upperTree);
    lease.release();
  }
}

/** Whether the kernel lets host root write at `target` (not a read-only mount). */
function isWritable(target: string): boolean {
  try {
    accessSync(target, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * An idmapped bind of `source` at `target` (a volume of a container in a user namespace):
 * files owned by id N on disk are N inside, whatever range the container has.
 */
export async function mountIdmappedBind(source: string, target: string, mapping: IdMapping): Promise<void> {
  checkMapping(target, mapping);
  const sys = fsx();
  const lease = idmapCache.lease();
  let tree: number | undefined;
  try {
    // the namespace is the cache's; the tree is not: move_mount attaches it here
    tree = sys.idmapTree(source, lease.userns(mapping), false);
    sys.moveMount(tree, target);
  } catch (err) {
    throw new MountError(target, `idmapped bind of ${source}: ${(err as Error).message}`);
  } finally {
    if (tree !== undefined) closeSync(tree);
    lease.release();
  }
}

/** Unmounts `target`; a target that is not mounted is fine. Lazy detach only if busy. */
export async function unmount(target: string): Promise<void> {
  const sys = fsx();
  try {
    sys.umount2(target, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOENT') return; // not a mount point (any more)
    if (code !== 'EBUSY') throw new MountError(target, (err as Error).message);
    sys.umount2(target, MountFlags.DETACH);
  }
}

/** Mounts, runs `fn`, and unmounts whatever happens. */
export async function withMounted<T>(spec: Mount, target: string, fn: (target: string) => Promise<T>): Promise<T> {
  await mount(spec, target);
  try {
    return await fn(target);
  } finally {
    await unmount(target);
  }
}

/**
 * The mount points at and below `dir` in this mount namespace, deepest first: the mount
 * table's paths with their octal escapes decoded (a space there is `\\040`), so each can be
 * unmounted by the path it gives.
 */
export async function mountPointsBelow(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Whether `target` is the root of a mount (false when it does not exist). */
export async function isMountPoint(target: string): Promise<boolean> {
  let root: boolean | null;
  try {
    root = fsx().isMountRoot(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (root !== null) return root;
  // a kernel before 5.8: the mount table, a line per mount on the host
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = target.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mounts.split('\n').some((line) => line.split(' ')[4] === escaped);
}
