/**
 * The native addon native/fsx (mknod, l*xattr, mount, umount2, isMountRoot, idmapped mounts, spawn): loaded on first use, found by walking up
 * from this file's directory to the repository's native/fsx/build/fsx.node. Walking up
 * works both from sources (libs/layers/src under tsx) and from an esbuild bundle
 * (dist/apps/<app>/main.js), which both live inside the checkout.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A path as a string, or as its bytes (a name that is not UTF-8; see names.ts). */
export type FsxPath = string | Buffer;

export interface Fsx {
  /** mknod(2); `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
  mknod(path: FsxPath, mode: number, major: number, minor: number): void;
  /** The attribute's value, or null when the file has no such attribute. Never follows a symlink. */
  lgetxattr(path: FsxPath, name: string): Buffer | null;
  lsetxattr(path: FsxPath, name: string, value: Buffer): void;
  llistxattr(path: FsxPath): string[];
  /** Removing an absent attribute is not an error. */
  lremovexattr(path: FsxPath, name: string): void;
  /** mount(2); `fstype` and `data` may be null (bind mounts, remounts). */
  mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void;
  /** umount2(2) */
  umount2(target: string, flags: number): void;
  /** Whether `path` (not followed if a symlink) is the root of a mount; null if the kernel cannot tell (< 5.8). */
  isMountRoot(path: FsxPath): boolean | null;
  /**
   * A new user namespace mapping ids 0..size-1 to the host's from hostUid/hostGid, as an fd
   * (close it) for idmapTree. Made by a short-lived child cloned without copying Node. A
   * TypeError unless the ids and size are integers >= 1 and id + size <= 2^32 - 1. With
   * `hostRootAs` (>= size) the host's root is mapped too, to that id: the mapping of an
   * overlay's idmapped upper dir, whose work dir and whiteouts the mounter (host root) makes.
   */
  usernsFd(hostUid: number, hostGid: number, size: number, hostRootAs?: number): number;
  /**
   * A detached, idmapped copy of the mount at `path` (open_tree + MOUNT_ATTR_IDMAP through
   * `usernsFd`), as an fd: overlay takes it as `/proc/self/fd/N`, moveMount attaches it, and
   * closing the fd drops it if neither did.
   */
  idmapTree(path: string, usernsFd: number, recursive: boolean): number;
  /** move_mount(2): attaches a detached mount (idmapTree's fd) at `target`. */
  moveMount(fd: number, target: string): void;
  /**
   * Runs `file` (looked up in PATH) to completion without forking Node (native/fsx/src/spawn.c
   * says why): `input` on its stdin (null: /dev/null), SIGTERM after `timeoutMs` (0: never)
   * and SIGKILL 5 s later, output beyond `maxBuffer` bytes dropped (and the child sent
   * SIGTERM). Rejects only when the program cannot be started (`code` ENOENT, EACCES...).
   */
  spawn(
    file: string,
    args: readonly string[],
    input: Buffer | null,
    timeoutMs: number,
    maxBuffer: number,
  ): Promise<SpawnResult>;
}

export interface SpawnResult {
  readonly pid: number;
  /** The exit status, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
  readonly overflowed: boolean;
}

/** mount(2) and umount2(2) flags from <sys/mount.h>. */
export const MountFlags = { RDONLY: 1, NOSUID: 2, NODEV: 4, REMOUNT: 32, BIND: 4096, REC: 16384, DETACH: 2 } as const;

const ADDON = join('native', 'fsx', 'build', 'fsx.node');

let loaded: Fsx | undefined;

export function fsx(): Fsx {
  // __dirname exists in both ways we run (tsx on CommonJS sources, esbuild's cjs bundle).
  loaded ??= load(findAddon(typeof __dirname === 'string' ? __dirname : process.cwd()));
  return loaded;
}

/** The addon's path above `start`, or an error telling how to build it. */
export function findAddon(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`native/fsx is not built (no ${ADDON} above ${start}); run infra/bootstrap.sh`);
}

function load(path: string): Fsx {
  const module = { exports: {} as Fsx };
  process.dlopen(module, path);
  return module.exports;
}
