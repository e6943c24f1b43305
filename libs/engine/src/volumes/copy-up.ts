/**
 * Docker's copy-up: when an empty volume is mounted over a directory of the image, the
 * image's content there is copied into the volume first, with owners, modes, times, hard
 * and symbolic links, device nodes and xattrs; and the volume's root takes the directory's
 * owner and mode (Docker's copyOwnership), so an image that prepared /var/lib/postgresql/data
 * for its postgres user gets a volume the postgres user can write.
 *
 * Paths are Buffers throughout: an image's file names need not be UTF-8.
 *
 * The copy runs in the caller's process (the agent's, for an app's instance) with synchronous
 * calls, and gives the event loop a turn every COPY_SLICE entries: an image's directory of a
 * million files (a tenant's choice) must not stop the agent's heartbeats and other work.
 */
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  type BigIntStats,
} from 'node:fs';
import { LayerError, RootResolver, fsx } from '@paas/layers';

/**
 * Copies the image's `destination` (inside `rootfs`) into the volume's `data` directory if
 * that is empty and the image has a directory there; true when it copied. A destination the
 * image lacks is left to the runtime (it creates the mount point), as is one that is not a
 * directory (the runtime refuses to mount over it).
 */
export async function copyUp(
  rootfs: string,
  destination: string,
  data: string,
  /**
   * The rootfs of a container in a user namespace shows the image's ids as the host's
   * (hostId + N); the volume keeps N, the ids inside (the engine mounts it idmapped). The copy
   * is made on the volume's own directory: host root cannot create files through the idmapped
   * view, where uid 0 of the host maps to nothing.
   */
  userns?: { readonly hostId: number; readonly size: number },
): Promise<boolean> {
  if (readdirSync(data).length > 0) return false;
  let physical: string | null;
  try {
    // symlinks resolve inside the rootfs: an image cannot point the copy at the host's files
    physical = new RootResolver(realpathSync(rootfs)).resolveDir(destination.replace(/^\/+/, ''), false);
  } catch (err) {
    if (err instanceof LayerError) return false;
    throw err;
  }
  if (physical === null) return false;
  const source = Buffer.from(physical === '' ? rootfs : `${realpathSync(rootfs)}/${physical}`);
  try {
    await copyTree(source, Buffer.from(data), (id) => {
      const n = Number(id);
      return userns && n >= userns.hostId && n < userns.hostId + userns.size ? n - userns.hostId : n;
    });
  } catch (err) {
    // a copy cut off leaves the volume empty again, not half-filled (a volume with content is
    // never copied into again)
    for (const name of readdirSync(data)) rmSync(`${data}/${name}`, { recursive: true, force: true });
    throw err;
  }
  return true;
}

/**
 * Copies the contents of `source` into the existing directory `target`, then the root's own
 * metadata, with each owner through `mapId`. `overlayXattrs`: keep overlay's opaque markers
 * (a copy of a layer that is to be an overlay lower itself).
 */
export async function copyTree(
  source: Buffer | string,
  target: Buffer | string,
  mapId: (id: bigint) => number,
  overlayXattrs = false,
): Promise<void> {
  const from = Buffer.from(source);
  const to = Buffer.from(target);
  const links = new Map<string, Buffer>();
  const ctx: CopyContext = { links, mapId, overlayXattrs, entries: 0 };
  for (const name of readdirSync(from, { encoding: 'buffer' })) await copyEntry(join(from, name), join(to, name), ctx);
  copyMetadata(from, to, lstatSync(from, { bigint: true }), false, ctx);
}

/** Entries copied between two turns of the event loop. */
export const COPY_SLICE = 64;

interface CopyContext {
  readonly links: Map<string, Buffer>;
  readonly mapId: (id: bigint) => number;
  readonly overlayXattrs: boolean;
  /** Entries copied so far: every COPY_SLICE-th gives the event loop a turn. */
  entries: number;
}

function join(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

/** One entry and, for a directory, everything under it; its metadata after its content. */
async function copyEntry(from: Buffer, to: Buffer, ctx: CopyContext): Promise<void> {
  if (++ctx.entries % COPY_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  const { links } = ctx;
  const st = lstatSync(from, { bigint: true });
  if (st.isDirectory()) {
    mkdirSync(to, { mode: 0o700 });
    for (const name of readdirSync(from, { encoding: 'buffer' }))
      await copyEntry(join(from, name), join(to, name), ctx);
    copyMetadata(from, to, st, false, ctx);
    return;
  }
  if (st.isFile() && st.nlink > 1n) {
    // a second name of a file already copied stays a second name, not a second file
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first) {
      linkSync(first, to);
      return;
    }
    links.set(key, to);
  }
  if (st.isFile()) copyFileSync(from, to);
  else if (st.isSymbolicLink()) symlinkSync(readlinkSync(from, { encoding: 'buffer' }), to);
  else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const rdev = Number(st.rdev);
    fsx().mknod(to, Number(st.mode), (rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00));
  } else return; // a socket means nothing without its process
  copyMetadata(from, to, st, st.isSymbolicLink(), ctx);
}

/** Owner first (chown clears set-id bits), then mode, xattrs, times (every other change bumps them). */
function copyMetadata(from: Buffer, to: Buffer, st: BigIntStats, symlink: boolean, ctx: CopyContext): void {
  lchownSync(to, ctx.mapId(st.uid), ctx.mapId(st.gid));
  if (!symlink) chmodSync(to, Number(st.mode) & 0o7777);
  copyXattrs(from, to, ctx.overlayXattrs);
  lutimesSync(to, Number(st.atimeMs) / 1000, Number(st.mtimeMs) / 1000);
}

function copyXattrs(from: Buffer, to: Buffer, overlayXattrs: boolean): void {
  let names: string[];
  try {
    names = fsx().llistxattr(from);
  } catch {
    return; // no xattr support here: nothing to carry
  }
  for (const name of names) {
    // overlay's own, meaningless outside it, but for a layer's opaque dirs in a copy of a layer
    if (name.startsWith('trusted.overlay.') && !(overlayXattrs && name === 'trusted.overlay.opaque')) continue;
    const value = fsx().lgetxattr(from, name);
    if (value === null) continue;
    try {
      fsx().lsetxattr(to, name, value);
    } catch {
      // a file system that cannot hold it costs the attribute, not the copy (as Docker)
    }
  }
}
