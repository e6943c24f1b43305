/**
 * Layers out of directories: `diffUpperDir` turns an overlay upper directory (which is
 * exactly a container's or a build step's changes) into an OCI layer, translating overlay
 * whiteouts into `.wh.` entries; `tarDirectory` archives a plain directory (a rootfs for a
 * base image) through the same code without that translation.
 *
 * Output is deterministic: names in byte order, empty uname/gname, seconds-precision
 * mtimes (or `fixedMtime`), no atime/ctime, so the same tree always gives the same digest.
 */
import { closeSync, constants, openSync, readlinkSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, type Digest } from '@paas/oci';
import { type Compression, compressor, LAYER_MEDIA_TYPES } from './compression';
import type { EntryType, TarHeader } from './tar-format';
import { decodeName, fsPath } from './names';
import { TarWriter } from './tar-write';
import { type TreeEntry, walkTree } from './walk';
import {
  checkDiffable,
  isOverlayOpaque,
  isOverlayWhiteout,
  isOverlayXattr,
  OPAQUE_MARKER,
  WHITEOUT_PREFIX,
} from './whiteouts';

export interface PackOptions {
  /** Default 'gzip'. */
  readonly compression?: Compression;
  /** zlib level for gzip, 1-9; default DEFAULT_GZIP_LEVEL (see compression.ts for why). */
  readonly gzipLevel?: number;
  /** Every entry's mtime (seconds since the epoch, or a Date), for reproducible layers. */
  readonly fixedMtime?: number | Date;
  /** Told about files that cannot go into a layer (sockets); they are left out. */
  readonly onWarning?: (message: string) => void;
  /**
   * The id an idmapped upper dir gives host root (a build step in a user namespace, see
   * mountIdmappedOverlay): what host root made there (a missing WORKDIR, the runtime's mount
   * points, overlay's whiteouts) goes in as root's (0), as without a namespace.
   */
  readonly hostRootAs?: number;
}

/** What an image manifest and config need to know about a layer. */
export interface LayerInfo {
  /** Digest of the bytes written to `out` (the blob). */
  readonly digest: Digest;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: Digest;
  /** Bytes written to `out`. */
  readonly size: number;
  /** Bytes of the uncompressed tar. */
  readonly tarSize: number;
  readonly mediaType: string;
}

/** The layer holding an overlay upper directory's changes. `out` is ended when done. */
export function diffUpperDir(upperDir: string, out: Writable, opts: PackOptions = {}): Promise<LayerInfo> {
  return packTree(upperDir, out, opts, true);
}

/** A layer holding a plain directory tree (its contents, not the directory itself). */
export function tarDirectory(dir: string, out: Writable, opts: PackOptions = {}): Promise<LayerInfo> {
  return packTree(dir, out, opts, false);
}

const READ_CHUNK = 1024 * 1024;
const DROPPED_XATTRS = new Set(['security.selinux']); // a host label, not image content

async function packTree(dir: string, out: Writable, opts: PackOptions, overlay: boolean): Promise<LayerInfo> {
  const kind = opts.compression ?? 'gzip';
  const tarDigest = new Digester();
  const blobDigest = new Digester();
  const squeeze = compressor(kind, opts.gzipLevel);
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      blobDigest.update(chunk);
      done(null, chunk);
    },
  });
  const finished = pipeline(squeeze, count, out);
  finished.catch(() => undefined); // observed below; avoids an unhandled rejection meanwhile
  const writer = new TarWriter(async (chunk) => {
    tarDigest.update(chunk);
    if (!squeeze.write(chunk)) await Promise.race([once(squeeze, 'drain'), finished]);
  });
  const mtime = opts.fixedMtime instanceof Date ? Math.floor(opts.fixedMtime.getTime() / 1000) : opts.fixedMtime;
  const hardlinks = new Map<string, string>();
  try {
    for (const entry of walkTree(dir)) {
      for (const item of entriesFor(entry, overlay, hardlinks, opts.onWarning)) {
        const header = ownHeader(mtime === undefined ? item.header : { ...item.header, mtime }, opts.hostRootAs);
        await writer.add(header, item.read ? readFile(entry.host, header.size) : undefined);
      }
    }
    await writer.finish();
    squeeze.end();
    await finished;
  } catch (err) {
    squeeze.destroy(err instanceof Error ? err : new Error(String(err)));
    await finished.catch(() => undefined);
    throw err;
  }
  return {
    digest: blobDigest.digest(),
    diffId: tarDigest.digest(),
    size: blobDigest.size,
    tarSize: tarDigest.size,
    mediaType: LAYER_MEDIA_TYPES[kind],
  };
}

function ownHeader(header: TarHeader, hostRootAs: number | undefined): TarHeader {
  if (hostRootAs === undefined || (header.uid !== hostRootAs && header.gid !== hostRootAs)) return header;
  return {
    ...header,
    uid: header.uid === hostRootAs ? 0 : header.uid,
    gid: header.gid === hostRootAs ? 0 : header.gid,
  };
}

interface PackItem {
  readonly header: TarHeader;
  /** Whether the body is the file's content. */
  readonly read: boolean;
}

/** The tar entries (zero, one or two) that one file of the tree becomes. */
function entriesFor(
  entry: TreeEntry,
  overlay: boolean,
  hardlinks: Map<string, string>,
  onWarning: ((message: string) => void) | undefined,
): PackItem[] {
  const { rel, st } = entry;
  const base: TarHeader = {
    name: rel,
    type: 'file',
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: layerXattrs(entry.xattrs),
  };
  if (overlay) {
    checkDiffable(rel, entry.xattrs);
    // Checked before hardlinks: overlay makes whiteouts as links to one shared inode.
    if (isOverlayWhiteout(st, entry.xattrs)) {
      const slash = rel.lastIndexOf('/');
      const name = `${rel.slice(0, slash + 1)}${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`;
      return [{ header: { ...base, name, mode: 0o600, xattrs: new Map() }, read: false }];
    }
  }
  if (!st.isDirectory() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = hardlinks.get(key);
    if (first !== undefined) return [{ header: { ...base, type: 'hardlink', linkname: first }, read: false }];
    hardlinks.set(key, rel);
  }
  const type = entryType(entry);
  if (type === null) {
    onWarning?.(`${rel}: sockets cannot be stored in a layer; left out`);
    return [];
  }
  const header: TarHeader = {
    ...base,
    type,
    size: type === 'file' ? st.size : 0,
    linkname: type === 'symlink' ? decodeName(readlinkSync(fsPath(entry.host), { encoding: 'buffer' })) : '',
    devmajor: type === 'char' || type === 'block' ? major(st.rdev) : 0,
    devminor: type === 'char' || type === 'block' ? minor(st.rdev) : 0,
  };
  const items: PackItem[] = [{ header, read: type === 'file' }];
  if (overlay && type === 'dir' && isOverlayOpaque(entry.xattrs)) {
    const marker: TarHeader = { ...base, name: `${rel}/${OPAQUE_MARKER}`, mode: 0o600, xattrs: new Map() };
    items.push({ header: marker, read: false });
  }
  return items;
}

function entryType({ st }: TreeEntry): EntryType | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return null;
}

function layerXattrs(xattrs: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
  if (xattrs.size === 0) return xattrs;
  return new Map([...xattrs].filter(([name]) => !isOverlayXattr(name) && !DROPPED_XATTRS.has(name)));
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

/** A file's content in fresh buffers (the compressor may still hold the previous ones). */
function* readFile(host: string, size: number): Generator<Buffer, void, undefined> {
  if (size === 0) return;
  // O_NOFOLLOW: if the file was swapped for a symlink since the walk saw it, fail instead.
  const fd = openSync(fsPath(host), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break; // shrank: TarWriter reports the short count
      left -= n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
    // One byte more means it grew; TarWriter reports the long count.
    const extra = Buffer.allocUnsafe(1);
    if (readSync(fd, extra, 0, 1, null) === 1) yield extra;
  } finally {
    closeSync(fd);
  }
}
