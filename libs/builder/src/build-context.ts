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
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { DockerIgnore } from '@paas/dockerfile';
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

  private constructor(
    readonly root: string,
    readonly ignore: DockerIgnore | undefined,
  ) {}

  /** Opens a context directory and reads its .dockerignore (syntax errors carry the line). */
  static async open(dir: string): Promise<BuildContext> {
    let root: string;
    try {
      root = realpathSync(dir);
      if (!lstatSync(root).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new BuildError(`unable to prepare context: path ${JSON.stringify(dir)} not found`);
    }
    let ignore: DockerIgnore | undefined;
    try {
      ignore = DockerIgnore.parse(await readFile(join(root, '.dockerignore'), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new BuildContext(root, ignore);
  }

  excluded(rel: string): boolean {
    return rel !== '' && (this.ignore?.matches(rel) ?? false);
  }

  private entry(rel: string): ContextEntry | undefined {
    const abs = rel === '' ? this.root : join(this.root, rel);
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
    const abs = rel === '' ? this.root : join(this.root, rel);
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
    let real: string;
    try {
      real = realpathSync(entry.abs);
    } catch {
      return undefined;
    }
    if (real !== this.root && !real.startsWith(`${this.root}/`)) {
      throw new BuildError(`forbidden path outside the build context: ${rel}`);
    }
    const target = this.entry(real.slice(this.root.length + 1));
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
