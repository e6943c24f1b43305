/**
 * A deterministic walk of a directory tree for archiving: depth first, each directory's
 * names in byte-wise order, a directory before its contents. Metadata is read with
 * synchronous calls: each is a few microseconds, less than a hop to libuv's thread pool,
 * and the compressor runs on that pool meanwhile.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { fsx } from './fsx';
import { decodeName, fsPath } from './names';

export interface TreeEntry {
  /** Path relative to the walked root, '/'-separated, never empty. */
  readonly rel: string;
  readonly host: string;
  readonly st: Stats;
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

const NONE: ReadonlyMap<string, Buffer> = new Map();

export function* walkTree(root: string): Generator<TreeEntry, void, undefined> {
  yield* walkDir(root, '');
}

function* walkDir(host: string, rel: string): Generator<TreeEntry, void, undefined> {
  for (const name of sortedNames(host)) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const childHost = `${host}/${name}`;
    const st = lstatSync(fsPath(childHost));
    const entry: TreeEntry = { rel: childRel, host: childHost, st, xattrs: readXattrs(childHost) };
    yield entry;
    if (st.isDirectory()) yield* walkDir(childHost, childRel);
  }
}

/** Names in byte order; a name that is not UTF-8 keeps its bytes (names.ts). */
function sortedNames(host: string): string[] {
  const raw = readdirSync(fsPath(host), { encoding: 'buffer' });
  raw.sort(Buffer.compare);
  return raw.map((bytes) => decodeName(bytes));
}

function readXattrs(host: string): ReadonlyMap<string, Buffer> {
  const path = fsPath(host);
  const names = fsx().llistxattr(path);
  if (names.length === 0) return NONE;
  const out = new Map<string, Buffer>();
  for (const name of names) {
    const value = fsx().lgetxattr(path, name);
    if (value !== null) out.set(name, value);
  }
  return out;
}
