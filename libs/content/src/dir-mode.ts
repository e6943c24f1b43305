/**
 * Directories of the engine's and platform's trees with the mode their users need: a
 * process that escapes a container runs on the host as an unprivileged uid of its range,
 * and whatever a tree's modes let "others" reach (image layers and their setuid files,
 * volumes, other containers' files) is its to take. Made with the mode, and set to it at
 * every open, so that an install made by an earlier, more open version is tightened too.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The trees only the engine's own (root) processes read. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * `path` as a directory of exactly `mode` (idempotent). Missing parents are made as
 * `mkdir -p` makes them (the umask's mode), not with `mode`: a fresh PAAS_ROOT must not be
 * closed because its first store is private.
 */
export async function ensureDirMode(path: string, mode: number = PRIVATE_DIR_MODE): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await mkdir(path, { mode }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const st = await stat(path);
  if (!st.isDirectory()) throw new Error(`${path} is not a directory (mode ${(st.mode & 0o7777).toString(8)})`);
  if ((st.mode & 0o7777) !== mode) await chmod(path, mode);
}
