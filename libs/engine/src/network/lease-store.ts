/**
 * The IPAM state of one bridge in a JSON file, changed only inside `transaction` under an
 * exclusive lock, so CLI processes starting containers side by side never hand out one
 * address twice. The file lives under PAAS_RUN: leases describe kernel objects (netns, veth,
 * rules) that die with the machine, so the file must die with it too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import { type LeaseState, emptyState } from './ipam';

export class LeaseStore {
  readonly file: string;
  readonly lockFile: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'leases.json');
    this.lockFile = join(dir, 'lock');
  }

  /** The state as last committed, without the lock (for ps and inspect). */
  async read(): Promise<LeaseState> {
    try {
      const state = JSON.parse(await readFile(this.file, 'utf8')) as LeaseState;
      return state.version === 1 && typeof state.leases === 'object' ? state : emptyState();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return emptyState();
      throw err;
    }
  }

  /**
   * Runs `fn` on the current state under the lock and commits what it changed, even when it
   * throws after changing it (a lease released before the failure must stay released).
   * `commit` writes the state mid-way: a lease must be on disk before the kernel objects it
   * describes exist, so that a crash in between leaves something `repair` can find.
   */
  async transaction<T>(fn: (state: LeaseState, commit: () => Promise<void>) => Promise<T>): Promise<T> {
    return withLock(
      this.lockFile,
      async () => {
        const state = await this.read();
        let written = JSON.stringify(state);
        const commit = async (): Promise<void> => {
          const now = JSON.stringify(state);
          if (now === written) return;
          await writeFileAtomic(this.file, now);
          written = now;
        };
        try {
          return await fn(state, commit);
        } finally {
          await commit();
        }
      },
      { timeoutMs: 60_000 },
    );
  }
}
