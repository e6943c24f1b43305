/**
 * Deletions, in the two forms they take. In an OCI layer (image-spec layer.md, inherited
 * from AUFS) a deleted `x` is an empty file `.wh.x`, and a directory whose lower contents
 * are hidden holds `.wh..wh..opq`. In an overlayfs upper or lower directory a deleted `x`
 * is a 0/0 character device named `x` (or, since Linux 6.7, an empty file carrying the
 * `overlay.whiteout` xattr), and an opaque directory has `overlay.opaque` = "y".
 * Overlay reads these xattrs in the trusted.* namespace, or user.* when mounted with
 * `userxattr` (rootless).
 */
import type { Stats } from 'node:fs';
import { LayerError } from './errors';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/** What a `.wh.`-prefixed base name means in a layer. */
export type WhiteoutName =
  | { readonly kind: 'opaque' }
  | { readonly kind: 'whiteout'; readonly target: string }
  /** AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): not content, skipped. */
  | { readonly kind: 'aufs-meta' };

/** Parses a base name; null when it is an ordinary name. Refuses names that hide `.` or `..`. */
export function parseWhiteout(base: string): WhiteoutName | null {
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'aufs-meta' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') {
    throw new LayerError('UNSAFE', `whiteout ${JSON.stringify(base)} names no file`);
  }
  return { kind: 'whiteout', target };
}

/** True for overlay's own xattrs (either namespace), which never go into a layer. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

function overlayXattr(xattrs: ReadonlyMap<string, Buffer>, key: string): Buffer | undefined {
  return xattrs.get(`trusted.overlay.${key}`) ?? xattrs.get(`user.overlay.${key}`);
}

/** Whether an upper-dir file is an overlay whiteout: a 0/0 char device or the xattr form. */
export function isOverlayWhiteout(st: Stats, xattrs: ReadonlyMap<string, Buffer>): boolean {
  if (st.isCharacterDevice() && st.rdev === 0) return true;
  return st.isFile() && st.size === 0 && overlayXattr(xattrs, 'whiteout') !== undefined;
}

/** Whether an upper-dir directory hides the lower directories' contents. */
export function isOverlayOpaque(xattrs: ReadonlyMap<string, Buffer>): boolean {
  return overlayXattr(xattrs, 'opaque')?.toString() === 'y';
}

/**
 * Overlay features a tar cannot express: with metacopy the upper file has no data (it is
 * still in a lower layer), with redirect_dir a renamed directory is only a pointer. The
 * snapshotter mounts with both off; finding them means the upper dir came from elsewhere.
 */
export function checkDiffable(rel: string, xattrs: ReadonlyMap<string, Buffer>): void {
  for (const key of ['metacopy', 'redirect']) {
    if (overlayXattr(xattrs, key) !== undefined) {
      throw new LayerError(
        'UNSUPPORTED',
        `upper dir uses overlay ${key} (mount with metacopy=off,redirect_dir=off to take diffs)`,
        { entry: rel },
      );
    }
  }
}
