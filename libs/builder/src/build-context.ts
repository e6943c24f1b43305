/**
 * The build context: a directory on this machine, filtered by its .dockerignore. Nothing is
 * sent anywhere (the builder runs in-process), so the context is never packed; COPY/ADD read
 * files in place and the cache hashes only the files a step copies, in the manner of
 * BuildKit's content hashes rather than the classic builder's whole-context tar.
 *
 * A source's checksum covers, for every entry below it (sorted by path): the path relative
 * to the source, the type, the permission bits, and the content's sha256 (a symlink's target
 * for links). Owners are not part of it (COPY sets them from --chown, or 0:0), nor are mtimes:
 * touching a file does not bust the cache, editing it does.
 *
 * The context may be a pushed repository, so its symlinks are an attacker's. Every path
 * (COPY/ADD sources, wildcard roots, the Dockerfile, .dockerignore) resolves component by
 * component with the context as `/`, as BuildKit's fs.RootPath and moby's FollowSymlinkInScope
 * do: `rootlink -> /` is the context itself and `up -> ..` stops at it, so no link leads to a
 * host file. An entry's `abs` is therefore always a physical path inside the root, and only
 * its last component may be a link (which COPY copies as a link).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { DockerIgnore } from '@paas/dockerfile';
import { resolveInRoot } from '@paas/engine';
import { LayerError, RootResolver } from '@paas/layers';
import { canonicalJson } from './canonical-json';
import { BuildError } from './errors';
import { globToRegExp, hasWildcards, literalPrefixDir } from './glob';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface ContextEntry {
  /** Path relative to the context root, `/`-separated, no leading `/`. */
  readonly rel: string;
  readonly abs: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** One COPY source after wildcard expansion: the entry it names (its tree is walked later). */
export interface SourceMatch {
  readonly pattern: string;
  readonly entry: ContextEntry;
}

export interface ScanProgress {
  readonly files: number;
  readonly bytes: number;
}

const HASH_CHUNK = 1024 * 1024;

function typeOf(st: Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined; // sockets, fifos, devices: not copied, as Docker skips them
}

/** Docker's path cleaning for a source: relative to the context, `..` never above it. */
export function cleanSource(source: string): string {
  const cleaned = posix.normalize(`/${source}`).replace(/^\/+/, '');
  return cleaned === '.' ? '' : cleaned.replace(/\/+$/, '');
}

export class BuildContext {
  private readonly hashes = new Map<string, string>();
  private readonly resolver: RootResolver;

  private constructor(
    readonly root: string,
    readonly ignore: DockerIgnore | undefined,
  ) {
    this.resolver = new RootResolver(root);
  }

  /** Opens a context directory and reads its .dockerignore (syntax errors carry the line). */
  static async open(dir: string): Promise<BuildContext> {
    let root: string;
    try {
      root = realpathSync(dir);
      if (!lstatSync(root).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new BuildError(`unable to prepare context: path ${JSON.stringify(dir)} not found`);
    }
    const text = inRoot(root, '.dockerignore', (abs) => readFileSync(abs, 'utf8'));
    return new BuildContext(root, text === undefined ? undefined : DockerIgnore.parse(text));
  }

  /** A file of the context by its path (links resolved inside it); undefined when missing. */
  readFile(rel: string): string | undefined {
    return inRoot(this.root, rel, (abs) => readFileSync(abs, 'utf8'));
  }

  excluded(rel: string): boolean {
    return rel !== '' && (this.ignore?.matches(rel) ?? false);
  }

  /**
   * The physical host path of `rel` with every directory on the way resolved inside the root;
   * the last component is not followed. Undefined when a directory on the way is missing.
   */
  private physical(rel: string): string | undefined {
    if (rel === '') return this.root;
    const slash = rel.lastIndexOf('/');
    const dir = resolveDir(this.resolver, slash < 0 ? '' : rel.slice(0, slash));
    if (dir === undefined) return undefined;
    return this.resolver.host(dir === '' ? rel.slice(slash + 1) : `${dir}/${rel.slice(slash + 1)}`);
  }

  /** The physical host path of directory `rel` (links followed inside the root). */
  private directory(rel: string): string | undefined {
    const dir = resolveDir(this.resolver, rel);
    return dir === undefined ? undefined : this.resolver.host(dir);
  }

  private entry(rel: string): ContextEntry | undefined {
    const abs = this.physical(rel);
    if (abs === undefined) return undefined;
    const st = lstatSync(abs, { throwIfNoEntry: false });
    const type = st && typeOf(st);
    if (!st || !type) return undefined;
    return { rel, abs, type, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs };
  }

  /**
   * Every entry below `rel` (not `rel` itself) that .dockerignore keeps, parents before
   * children, names in byte order so that walks and hashes are deterministic.
   */
  *walk(rel = ''): Generator<ContextEntry> {
    const abs = this.directory(rel);
    if (abs === undefined) return;
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const ignored = this.excluded(child);
      const entry = this.entry(child);
      if (!entry) continue;
      if (ignored && !(entry.type === 'dir' && this.ignore?.allowsDescendant(child))) continue;
      if (!ignored) yield entry;
      if (entry.type === 'dir') yield* this.walk(child);
    }
  }

  /**
   * What COPY could see, measured as `docker build` reports it (the size of the context as a
   * tar stream, see output.ts); `onProgress` every 1000 entries for a terminal's progress line.
   */
  scan(onProgress?: (p: ScanProgress) => void): ScanProgress {
    let files = 0;
    let bytes = 1024;
    for (const entry of this.walk()) {
      files++;
      bytes += 512 + (entry.type === 'file' ? Math.ceil(entry.size / 512) * 512 : 0);
      if (onProgress && files % 1000 === 0) onProgress({ files, bytes });
    }
    return { files, bytes };
  }

  /**
   * The entries that COPY/ADD sources name, wildcards expanded, in order. A literal source
   * that is missing or excluded fails with Docker's message; a wildcard matching nothing too.
   */
  resolve(sources: readonly string[], instruction = 'COPY'): SourceMatch[] {
    const matches: SourceMatch[] = [];
    for (const source of sources) {
      const rel = cleanSource(source);
      if (!hasWildcards(rel)) {
        const entry = this.excluded(rel) ? undefined : this.followRoot(rel);
        if (!entry) {
          throw new BuildError(
            `${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${rel || '.'}: file does not exist`,
          );
        }
        matches.push({ pattern: source, entry });
        continue;
      }
      const re = globToRegExp(rel);
      const start = literalPrefixDir(rel);
      const found: SourceMatch[] = [];
      if (start === '' || this.entry(start)?.type === 'dir') {
        for (const entry of this.walk(start)) if (re.test(entry.rel)) found.push({ pattern: source, entry });
      }
      // A match's own children are copied with it, not matched again.
      const top = found.filter((m) => !found.some((o) => o !== m && m.entry.rel.startsWith(`${o.entry.rel}/`)));
      if (top.length === 0) throw new BuildError(`${instruction} failed: no source files were specified`);
      matches.push(...top);
    }
    return matches;
  }

  /** A source that is itself a symlink is followed (inside the context), as Docker does. */
  private followRoot(rel: string): ContextEntry | undefined {
    const entry = this.entry(rel);
    if (!entry || entry.type !== 'symlink') return entry;
    const real = inRoot(this.root, rel, (abs) => abs);
    if (real === undefined) return undefined;
    const target = this.entry(real === this.root ? '' : real.slice(this.root.length + 1));
    return target && { ...target, rel };
  }

  /** sha256 of a file's content, once per build. */
  fileHash(abs: string): string {
    const hit = this.hashes.get(abs);
    if (hit) return hit;
    const hash = createHash('sha256');
    const fd = openSync(abs, 'r');
    try {
      const buf = Buffer.allocUnsafe(HASH_CHUNK);
      for (let n = readSync(fd, buf, 0, HASH_CHUNK, null); n > 0; n = readSync(fd, buf, 0, HASH_CHUNK, null)) {
        hash.update(n === HASH_CHUNK ? buf : buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    const hex = hash.digest('hex');
    this.hashes.set(abs, hex);
    return hex;
  }

  /** The entries a match copies: itself, and for a directory everything kept below it. */
  *tree(match: SourceMatch): Generator<ContextEntry> {
    yield match.entry;
    if (match.entry.type === 'dir') {
      // walk() yields paths relative to the context; the source dir may be a followed link
      const base = match.entry.abs === this.root ? '' : match.entry.abs.slice(this.root.length + 1);
      for (const child of this.walk(base))
        yield { ...child, rel: posix.join(match.entry.rel, child.rel.slice(base.length)) };
    }
  }

  /** The checksum of what the sources copy (see the file comment for what it covers). */
  checksum(matches: readonly SourceMatch[]): string {
    const hash = createHash('sha256');
    for (const match of matches) {
      const prefix = match.entry.rel;
      for (const entry of this.tree(match)) {
        const path = entry.rel === prefix ? '.' : entry.rel.slice(prefix === '' ? 0 : prefix.length + 1);
        const content =
          entry.type === 'file' ? this.fileHash(entry.abs) : entry.type === 'symlink' ? readlinkSync(entry.abs) : '';
        hash.update(canonicalJson([match.pattern, path, entry.type, entry.mode, content]));
        hash.update('\n');
      }
    }
    return hash.digest('hex');
  }
}

/** `resolver.resolveDir` without creating, a path through a non-directory counting as missing. */
function resolveDir(resolver: RootResolver, rel: string): string | undefined {
  try {
    return resolver.resolveDir(rel, false) ?? undefined;
  } catch (err) {
    if (err instanceof LayerError && err.problem === 'IO') return undefined;
    throw new BuildError(`${rel}: ${(err as Error).message}`);
  }
}

/** `use` of the host path of `rel` with every link resolved inside `root`; undefined when missing. */
function inRoot<T>(root: string, rel: string, use: (abs: string) => T): T | undefined {
  let abs: string | undefined;
  try {
    abs = resolveInRoot(root, `/${rel}`);
  } catch (err) {
    if (err instanceof LayerError && err.problem === 'IO') return undefined;
    throw new BuildError(`${rel}: ${(err as Error).message}`);
  }
  if (abs === undefined) return undefined;
  try {
    return use(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
