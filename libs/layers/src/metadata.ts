/**
 * Ownership, mode, xattrs and times of extracted files, applied after the content and in
 * this order: chown first because it clears set-id bits and file capabilities, chmod
 * second, xattrs (security.capability among them) third, times last because every other
 * change would bump them. Directories get theirs at the very end (see Unpacker.finish),
 * after their contents stopped changing their mtimes.
 */
import { fchmodSync, fchownSync, futimesSync, lchownSync, lutimesSync, chmodSync } from 'node:fs';
import { errnoCode } from './errors';
import { fsx } from './fsx';
import { fsPath } from './names';
import type { TarHeader } from './tar-format';
import { isOverlayXattr } from './whiteouts';

export interface MetadataPolicy {
  /** lchown to the archive's uid/gid (needs root). */
  readonly sameOwner: boolean;
  readonly warn: (message: string) => void;
}

/** For a file or directory the caller holds open (no path lookup, no symlink to follow). */
export function applyToFd(fd: number, host: string, h: TarHeader, policy: MetadataPolicy): void {
  if (policy.sameOwner) fchownSync(fd, h.uid, h.gid);
  fchmodSync(fd, h.mode);
  setXattrs(host, h.xattrs, policy);
  futimesSync(fd, h.mtime, h.mtime);
}

/**
 * For a node the extractor has just created at `host` (symlink, device, fifo). Linux has
 * no lchmod and a symlink's mode means nothing, so symlinks skip chmod.
 */
export function applyToPath(host: string, h: TarHeader, policy: MetadataPolicy, isSymlink: boolean): void {
  const path = fsPath(host);
  if (policy.sameOwner) lchownSync(path, h.uid, h.gid);
  if (!isSymlink) chmodSync(path, h.mode);
  setXattrs(host, h.xattrs, policy);
  lutimesSync(path, h.mtime, h.mtime);
}

/**
 * Sets the layer's xattrs. Overlay's own (`trusted.overlay.*`) are never taken from a
 * layer: in a lower dir they would change what overlay shows (a redirect, an opaque dir).
 * A file system or a user that cannot hold an attribute costs a warning, not the layer,
 * as in Docker.
 */
function setXattrs(host: string, xattrs: ReadonlyMap<string, Buffer>, policy: MetadataPolicy): void {
  for (const [name, value] of xattrs) {
    if (isOverlayXattr(name)) {
      policy.warn(`xattr ${name} ignored: overlay's own attributes are not layer content`);
      continue;
    }
    try {
      fsx().lsetxattr(fsPath(host), name, value);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      policy.warn(`xattr ${name} not set: ${code}`);
    }
  }
}
