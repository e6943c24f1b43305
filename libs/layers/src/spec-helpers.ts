/**
 * Helpers shared by the specs (not exported from the library): scratch directories,
 * hand-built archives, and a snapshot of a tree that two trees can be compared by.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fsx } from './fsx';
import { BLOCK, encodeHeader, padding, type EntryType, type TarHeader } from './tar-format';

export const isRoot = process.getuid?.() === 0;

/** A fresh directory removed when the test ends. */
export function scratch(t: { after(fn: () => void): void }, prefix = 'paas-layers-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface SpecEntry {
  readonly name: string;
  readonly type?: EntryType;
  readonly body?: string | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: ReadonlyMap<string, Buffer>;
}

export function header(e: SpecEntry, size: number): TarHeader {
  const type = e.type ?? 'file';
  return {
    name: e.name,
    type,
    mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size,
    mtime: e.mtime ?? 1_700_000_000,
    linkname: e.linkname ?? '',
    devmajor: e.devmajor ?? 0,
    devminor: e.devminor ?? 0,
    xattrs: e.xattrs ?? new Map(),
  };
}

/** An uncompressed tar of the given entries, written exactly as listed. */
export function tarOf(entries: readonly SpecEntry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    parts.push(encodeHeader(header(e, body.length)), body, Buffer.alloc(padding(body.length)));
  }
  if (end) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** Recomputes a raw header block's checksum after a test edited its fields. */
export function fixChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

export function streamOf(data: Buffer, chunk = 64 * 1024): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** One line per file: what a layer must carry (type, mode, owner, mtime, content, link, xattrs). */
export interface NodeState {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime?: number;
  readonly content?: string;
  readonly link?: string;
  readonly rdev?: number;
  readonly xattrs: Record<string, string>;
  /** Other names of the same inode within the tree. */
  readonly links: string[];
}

export interface SnapshotOptions {
  /** Compare mtimes (seconds) of everything but the root; default true. */
  readonly mtimes?: boolean;
  /** Names to leave out (relative paths). */
  readonly skip?: (rel: string) => boolean;
}

/** The state of every file below `root`, keyed by relative path. */
export function snapshot(root: string, opts: SnapshotOptions = {}): Record<string, NodeState> {
  const out: Record<string, NodeState> = {};
  const inodes = new Map<string, string[]>();
  const walk = (rel: string): void => {
    const host = rel === '' ? root : join(root, rel);
    for (const name of readdirSync(host).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (opts.skip?.(childRel)) continue;
      const path = join(root, childRel);
      const st = lstatSync(path);
      const xattrs: Record<string, string> = {};
      for (const x of fsx().llistxattr(path).sort()) xattrs[x] = fsx().lgetxattr(path, x)?.toString('hex') ?? '';
      const type = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isCharacterDevice()
              ? 'char'
              : st.isBlockDevice()
                ? 'block'
                : st.isFIFO()
                  ? 'fifo'
                  : 'other';
      const key = `${st.dev}:${st.ino}`;
      if (!st.isDirectory()) inodes.set(key, [...(inodes.get(key) ?? []), childRel]);
      out[childRel] = {
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        ...(opts.mtimes === false ? {} : { mtime: Math.floor(st.mtimeMs / 1000) }),
        ...(st.isFile() ? { content: createHash('sha256').update(readFileSync(path)).digest('hex') } : {}),
        ...(st.isSymbolicLink() ? { link: readlinkSync(path) } : {}),
        ...(st.isCharacterDevice() || st.isBlockDevice() ? { rdev: st.rdev } : {}),
        xattrs,
        links: [key],
      };
      if (st.isDirectory()) walk(childRel);
    }
  };
  walk('');
  // Replace inode keys by the other names of the same inode, so two trees compare.
  for (const [rel, state] of Object.entries(out)) {
    const key = state.links[0] ?? '';
    out[rel] = { ...state, links: (inodes.get(key) ?? []).filter((other) => other !== rel) };
  }
  return out;
}
