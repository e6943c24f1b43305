/**
 * Paths inside an extraction root, with chroot semantics (containerd's fs.RootPath): a
 * symlink met while resolving a parent directory is followed, but an absolute target
 * starts again at the root and `..` stops at the root, so no name and no symlink in a
 * layer can lead outside. The last component of an entry is never resolved: it is
 * created or replaced, and a symlink there is replaced, not followed.
 *
 * Resolution costs an lstat per component, so resolved directories are cached. The cache
 * can only go stale when a directory or a symlink is removed or replaced, which the
 * extractor reports with `forget()`; creating new files never changes how existing
 * directories resolve.
 */
import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { LayerError } from './errors';
import { decodeName, fsPath } from './names';

/** Relative, no empty, `.` or `..` component, no NUL; at most one trailing '/'. */
const CLEAN = /^(?!\.\.?(?:\/|$))(?:[^/\0]+\/(?!\.\.?(?:\/|$)))*[^/\0]+\/?$/;

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

/**
 * An archive member name as a clean path relative to the root ('' is the root itself).
 * A leading '/' is dropped (absolute names are relative to the root, as tar and containerd
 * read them); `.` and empty components go; `..` is applied lexically and must never climb
 * above the root: such a name is refused, not clamped.
 */
export function cleanEntryPath(name: string): string {
  // Almost every name is already clean ("usr/lib/x.so", "etc/" for a directory).
  if (CLEAN.test(name)) return name.endsWith('/') ? name.slice(0, -1) : name;
  if (name.includes('\0')) throw new LayerError('UNSAFE', 'name contains a NUL byte');
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new LayerError('UNSAFE', `path ${JSON.stringify(name)} escapes the root`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

/** The parent of a clean relative path ('' for a top-level name). */
export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export class RootResolver {
  /** Clean relative path -> physical relative path of a directory known to exist. */
  private readonly dirs = new Map<string, string>();

  /** `root` must already be a real path (no symlinks), e.g. from realpath. */
  constructor(readonly root: string) {}

  /** Host path of a physical relative path. */
  host(physical: string): string {
    return physical === '' ? this.root : `${this.root}/${physical}`;
  }

  /**
   * The physical relative path of directory `rel`, following symlinks inside the root.
   * Missing directories are created (mode 0755) when `create` is set; otherwise null is
   * returned. A component that exists but is not a directory is an error.
   */
  resolveDir(rel: string, create: boolean): string | null {
    if (rel === '') return '';
    const hit = this.dirs.get(rel);
    if (hit !== undefined) return hit;

    const parts = rel.split('/');
    // Start from the deepest cached ancestor.
    let i = parts.length - 1;
    let physical: string[] = [];
    for (; i > 0; i--) {
      const cached = this.dirs.get(parts.slice(0, i).join('/'));
      if (cached !== undefined) {
        physical = cached === '' ? [] : cached.split('/');
        break;
      }
    }
    const budget = { links: MAX_SYMLINKS };
    for (; i < parts.length; i++) {
      const next = this.step(physical, parts[i] ?? '', create, budget, rel);
      if (next === null) return null;
      physical = next;
      this.dirs.set(parts.slice(0, i + 1).join('/'), physical.join('/'));
    }
    return physical.join('/');
  }

  /** Drops every cached resolution; called when a directory or symlink is removed or replaced. */
  forget(): void {
    this.dirs.clear();
  }

  /** Resolves one component below `at` (physical, existing) to an existing directory. */
  private step(at: string[], name: string, create: boolean, budget: { links: number }, rel: string): string[] | null {
    if (name === '' || name === '.') return at;
    if (name === '..') return at.slice(0, -1); // at the root, `..` is the root
    const path = [...at, name];
    const host = this.host(path.join('/'));
    const st = lstatSync(fsPath(host), { throwIfNoEntry: false });
    if (st === undefined) {
      if (!create) return null;
      mkdirSync(fsPath(host), 0o755);
      return path;
    }
    if (st.isDirectory()) return path;
    if (st.isSymbolicLink()) {
      if (--budget.links < 0) {
        throw new LayerError('UNSAFE', `too many levels of symbolic links resolving ${JSON.stringify(rel)}`);
      }
      const target = decodeName(readlinkSync(fsPath(host), { encoding: 'buffer' }));
      let out: string[] | null = target.startsWith('/') ? [] : at;
      for (const part of target.split('/')) {
        out = this.step(out, part, create, budget, rel);
        if (out === null) return null;
      }
      return out;
    }
    throw new LayerError(
      'IO',
      `${JSON.stringify(path.join('/'))} is not a directory (resolving ${JSON.stringify(rel)})`,
    );
  }
}
