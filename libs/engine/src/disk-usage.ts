import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of the regular files under `dir` (symlinks not followed): what a prune reclaims, as Docker counts. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const st = await lstat(join(entry.parentPath ?? entry.path, entry.name)).catch(() => undefined);
    total += st?.size ?? 0;
  }
  return total;
}
