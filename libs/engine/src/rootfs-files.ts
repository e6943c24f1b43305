/**
 * Reading files inside a container's root filesystem from the host, with the root as the
 * root: a symlink such as /etc/passwd -> /etc/../../host/file resolves inside the rootfs,
 * never to the host's files (the same chroot semantics as layer extraction).
 */
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { RootResolver } from '@paas/layers';

const MAX_LINKS = 40;

/** Lexical clean with `..` stopping at the root, as the kernel does under chroot. */
function clamp(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function split(rel: string): [string, string] {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
}

/** The host path of `path` inside `root` with every symlink resolved inside it; undefined if missing. */
export function resolveInRoot(root: string, path: string): string | undefined {
  const resolver = new RootResolver(root);
  let rel = clamp(path);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const [parent, base] = split(rel);
    if (base === '') return resolver.host('');
    const dir = resolver.resolveDir(parent, false);
    if (dir === null) return undefined;
    const physical = dir === '' ? base : `${dir}/${base}`;
    const host = resolver.host(physical);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (!st.isSymbolicLink()) return host;
    const target = readlinkSync(host);
    rel = clamp(target.startsWith('/') ? target : `${split(physical)[0]}/${target}`);
  }
  throw new Error(`too many levels of symbolic links resolving ${path} in the container`);
}

export function readFileInRoot(root: string, path: string): string | undefined {
  try {
    const host = resolveInRoot(root, path);
    return host === undefined ? undefined : readFileSync(host, 'utf8');
  } catch {
    return undefined;
  }
}
