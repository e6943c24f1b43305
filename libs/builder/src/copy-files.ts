/**
 * COPY and ADD into a step's mounted rootfs, with Docker's rules:
 * - a relative destination is relative to WORKDIR; several sources need a destination
 *   ending in `/`; a directory source copies its contents, not itself;
 * - a file goes into the destination when it ends in `/` or is an existing directory;
 * - files are owned by 0:0 unless --chown (`user` alone means gid = uid), keep their mode
 *   unless --chmod, and keep their mtime; symlinks are copied as links;
 * - ADD unpacks a local tar archive (plain or gzip) into the destination, through the
 *   layers library's safe extraction (no path escapes, no links out of the tree).
 * Paths inside the rootfs resolve with the rootfs as `/`, so a symlink in the image can
 * never send a write to the host.
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  createReadStream,
  lchownSync,
  lstatSync,
  lutimesSync,
  openSync,
  readSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { posix } from 'node:path';
import { resolveUser } from '@paas/engine';
import { RootResolver, extractLayer } from '@paas/layers';
import { BuildError } from './errors';

/** One entry of a source tree; `path` is relative to the source ('' is the source itself). */
export interface SourceEntry {
  readonly path: string;
  readonly abs: string;
  readonly type: 'file' | 'dir' | 'symlink';
  readonly mode: number;
  readonly mtimeMs: number;
}

export interface SourceItem {
  /** The name a file source gets inside a destination directory. */
  readonly name: string;
  readonly type: 'file' | 'dir' | 'symlink';
  readonly entries: Iterable<SourceEntry>;
  /** Inline content (a heredoc) instead of a file. */
  readonly content?: string;
}

export interface CopyOptions {
  readonly instruction: 'COPY' | 'ADD';
  readonly dest: string;
  readonly workdir: string | undefined;
  readonly chown?: string;
  readonly chmod?: string;
  /** ADD: unpack local archives. */
  readonly unpack: boolean;
}

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

function resolveChown(rootfs: string, chown: string | undefined): Owner {
  if (!chown) return { uid: 0, gid: 0 };
  const [user = '', group] = chown.split(':', 2);
  const uid = resolveUser(rootfs, user).uid;
  const gid = group === undefined || group === '' ? uid : resolveUser(rootfs, `0:${group}`).gid;
  return { uid, gid };
}

function isArchive(abs: string): boolean {
  const head = Buffer.alloc(265);
  const fd = openSync(abs, 'r');
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    return n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}

export async function copyInto(rootfs: string, items: readonly SourceItem[], opts: CopyOptions): Promise<void> {
  const root = realpathSync(rootfs);
  const resolver = new RootResolver(root);
  const owner = resolveChown(root, opts.chown);
  const chmod = opts.chmod ? Number.parseInt(opts.chmod, 8) : undefined;
  const destAbs = posix.resolve(opts.workdir || '/', opts.dest);
  const destRel = destAbs.replace(/^\/+/, '');
  const endsWithSlash = opts.dest.endsWith('/') || opts.dest.endsWith('/.') || opts.dest === '.';
  if (items.length > 1 && !endsWithSlash) {
    throw new BuildError(
      `When using ${opts.instruction} with more than one source file, the destination must be a directory and end with a /`,
    );
  }

  const hostOf = (rel: string, create: boolean): string | null => {
    if (rel === '') return root;
    const parent = resolver.resolveDir(posix.dirname(rel) === '.' ? '' : posix.dirname(rel), create);
    if (parent === null) return null;
    return resolver.host(parent === '' ? posix.basename(rel) : `${parent}/${posix.basename(rel)}`);
  };
  const destIsDir = (): boolean => {
    if (endsWithSlash) return true;
    const host = hostOf(destRel, false);
    if (host === null) return false;
    try {
      return realpathSync(host).startsWith(root) && lstatSync(realpathSync(host)).isDirectory();
    } catch {
      return false;
    }
  };

  /** Creates a directory; an existing destination keeps its owner and mode (no copy-up). */
  const makeDir = (rel: string, mode: number | undefined): void => {
    const existed = resolver.resolveDir(rel, false) !== null;
    const host = resolver.host(resolver.resolveDir(rel, true) ?? rel);
    if (existed && mode === undefined) return;
    chmodSync(host, chmod ?? mode ?? 0o755);
    lchownSync(host, owner.uid, owner.gid);
  };
  const place = (rel: string, entry: SourceEntry | undefined, content?: string): void => {
    const host = hostOf(rel, true);
    if (host === null) throw new BuildError(`cannot create ${rel}`);
    const existing = lstatSync(host, { throwIfNoEntry: false });
    const type = entry?.type ?? 'file';
    if (existing && (type !== 'file' || !existing.isFile())) rmSync(host, { recursive: true, force: true });
    if (type === 'symlink' && entry) {
      symlinkSync(readlinkSync(entry.abs), host);
    } else if (content !== undefined) {
      writeFileSync(host, content, { mode: 0o644 });
      chmodSync(host, chmod ?? 0o644);
    } else if (entry) {
      copyFileSync(entry.abs, host);
      chmodSync(host, chmod ?? entry.mode);
    }
    lchownSync(host, owner.uid, owner.gid);
    if (entry) lutimesSync(host, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
  };

  for (const item of items) {
    if (item.content !== undefined) {
      place(destIsDir() ? posix.join(destRel, item.name) : destRel, undefined, item.content);
      continue;
    }
    if (item.type === 'dir') {
      if (destRel !== '') makeDir(destRel, undefined);
      for (const entry of item.entries) {
        if (entry.path === '') continue;
        const rel = posix.join(destRel, entry.path);
        if (entry.type === 'dir') makeDir(rel, entry.mode);
        else place(rel, entry);
      }
      continue;
    }
    const [entry] = [...item.entries];
    if (!entry) continue;
    if (opts.unpack && entry.type === 'file' && isArchive(entry.abs)) {
      const dir = resolver.host(resolver.resolveDir(destRel, true) ?? destRel);
      await extractLayer(createReadStream(entry.abs), dir, { whiteouts: 'apply' });
      continue;
    }
    place(destIsDir() ? posix.join(destRel, item.name) : destRel, entry);
  }
}
