/**
 * Sources of `COPY --from`: paths inside another stage's (or image's) root filesystem,
 * mounted read-only for the step. Paths resolve with that root as `/` (a symlink in the
 * image cannot point the copy at the host); wildcards match as they do in the context.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { resolveInRoot } from '@paas/engine';
import type { SourceEntry, SourceItem } from './copy-files';
import { BuildError } from './errors';
import { globToRegExp, hasWildcards, literalPrefixDir } from './glob';

function entryOf(abs: string, path: string): SourceEntry | undefined {
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return undefined;
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : undefined;
  return type && { path, abs, type, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
}

function* walk(abs: string, path: string): Generator<SourceEntry> {
  for (const name of readdirSync(abs).sort()) {
    const child = entryOf(join(abs, name), path === '' ? name : `${path}/${name}`);
    if (!child) continue;
    yield child;
    if (child.type === 'dir') yield* walk(child.abs, child.path);
  }
}

function item(entry: SourceEntry, name: string): SourceItem {
  const root = { ...entry, path: '' };
  const entries = (): Iterable<SourceEntry> => (entry.type === 'dir' ? [root, ...walk(entry.abs, '')] : [root]);
  return { name, type: entry.type, entries: entries() };
}

export function imageTree(root: string, sources: readonly string[], kind: 'copy' | 'add'): SourceItem[] {
  const items: SourceItem[] = [];
  for (const source of sources) {
    const rel = posix.normalize(`/${source}`).replace(/^\/+|\/+$/g, '');
    if (!hasWildcards(rel)) {
      const host = resolveInRoot(root, `/${rel}`);
      const entry = host === undefined ? undefined : entryOf(host, '');
      if (!entry) {
        throw new BuildError(`${kind.toUpperCase()} failed: stat ${rel || '/'}: file does not exist`);
      }
      items.push(item(entry, rel.split('/').pop() || '.'));
      continue;
    }
    const re = globToRegExp(rel);
    const start = literalPrefixDir(rel);
    const dir = resolveInRoot(root, `/${start}`);
    const found = dir === undefined ? [] : [...walk(dir, start)].filter((e) => re.test(e.path));
    const top = found.filter((m) => !found.some((o) => o !== m && m.path.startsWith(`${o.path}/`)));
    if (top.length === 0) throw new BuildError(`${kind.toUpperCase()} failed: no source files were specified`);
    for (const e of top) items.push(item(e, e.path.split('/').pop() ?? e.path));
  }
  return items;
}
