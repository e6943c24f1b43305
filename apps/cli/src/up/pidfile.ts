import { isProcessAlive } from '@paas/content';
import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * Claims `path` for this process: created exclusively with our pid. A file left by a
 * process that no longer runs is taken over; a live owner is reported by pid.
 * Returns a release function that removes the file if it is still ours.
 */
export function claimPidFile(path: string, pid = process.pid): { release(): void } | { owner: number } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      return {
        release: () => {
          if (readOwner(path) === pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(path);
      if (owner !== undefined && owner !== pid && isProcessAlive(owner)) return { owner };
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot claim ${path}`);
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
