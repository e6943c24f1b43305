/**
 * The IPAM state of one bridge in a JSON file, changed only inside `transaction` under an
 * exclusive lock, so CLI processes starting containers side by side never hand out one
 * address twice. The file lives under PAAS_RUN: leases describe kernel objects (netns, veth,
 * rules) that die with the machine, so the file must die with it too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileStamp, withLock, writeFileAtomic } from '@paas/content';
import { type LeaseState, emptyState } from './ipam';

/**
 * The file as this process last read or wrote it: a node starting a thousand containers reads
 * and writes the state at every start, and parsing it again each time cost more than the
 * rest of the network's share. Valid while the file's stamp (fileStamp) is the same: another
 * process's write is a new file.
 */
interface Cached {
  readonly stamp: string;
  readonly state: LeaseState;
}

/** What a commit compares: the allocation marks and each lease by identity. */
interface Shape {
  readonly lastIp: string | undefined;
  readonly lastPort: number | undefined;
  readonly leases: ReadonlyMap<string, unknown>;
}

const shapeOf = (state: LeaseState): Shape => ({
  lastIp: state.lastIp,
  lastPort: state.lastPort,
  leases: new Map(Object.entries(state.leases)),
});

function sameShape(shape: Shape, state: LeaseState): boolean {
  if (shape.lastIp !== state.lastIp || shape.lastPort !== state.lastPort) return false;
  const ids = Object.keys(state.leases);
  return ids.length === shape.leases.size && ids.every((id) => shape.leases.get(id) === state.leases[id]);
}

export class LeaseStore {
  readonly file: string;
  readonly lockFile: string;
  private cached: Cached | null = null;

  constructor(readonly dir: string) {
    this.file = join(dir, 'leases.json');
    this.lockFile = join(dir, 'lock');
  }

  /**
   * The state as last committed, without the lock (for ps and inspect). The object is shared
   * with this process's transactions: read it, do not change it.
   */
  async read(): Promise<LeaseState> {
    return (await this.load()).state;
  }

  /** The committed state, parsed again only when the file changed. */
  private async load(): Promise<{ state: LeaseState }> {
    const stamp = await fileStamp(this.file);
    if (stamp === null) return { state: emptyState() };
    if (this.cached?.stamp === stamp) return this.cached;
    let state: LeaseState;
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as LeaseState;
      state = parsed.version === 1 && typeof parsed.leases === 'object' ? parsed : emptyState();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
      state = emptyState();
    }
    // the stamp read before the file: a write in between makes the next load read it again
    const loaded = { stamp, state };
    this.cached = loaded;
    return loaded;
  }

  /**
   * Runs `fn` on the current state under the lock and commits what it changed, even when it
   * throws after changing it (a lease released before the failure must stay released).
   * `commit` writes the state mid-way: a lease must be on disk before the kernel objects it
   * describes exist, so that a crash in between leaves something `repair` can find.
   *
   * `fn` replaces a lease to change it (`state.leases[id] = {...}`), never changes one in
   * place: what changed is told by the leases' identities and the allocation marks, without
   * serialising a thousand leases again to compare (twice a start, it was most of the cost).
   */
  async transaction<T>(fn: (state: LeaseState, commit: () => Promise<void>) => Promise<T>): Promise<T> {
    return withLock(
      this.lockFile,
      async () => {
        // fn changes the cached state itself: every change is committed (below, also when fn
        // throws), and a commit that fails drops the cache, so the next reader parses the file
        const { state } = await this.load();
        let written = shapeOf(state);
        const commit = async (): Promise<void> => {
          if (sameShape(written, state)) return;
          const now = JSON.stringify(state);
          const shape = shapeOf(state); // what is written: a change during the write is still to commit
          this.cached = null;
          // host root alone reads it (the engine): its directory is searchable by every
          // user-namespaced container's root, and it lists every container's id, IP and ports.
          // Not fsynced: it lives under PAAS_RUN and describes kernel objects a reboot ends too;
          // the rename keeps it whole through a crash of the process
          await writeFileAtomic(this.file, now, 0o600, { durable: false });
          written = shape;
          const stamp = await fileStamp(this.file);
          if (stamp !== null) this.cached = { stamp, state };
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
