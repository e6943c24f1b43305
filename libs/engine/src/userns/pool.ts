/**
 * Host id ranges for containers in user namespaces (`run --userns=auto`): each range is
 * RANGE_SIZE uids (and the same gids) of a pool, `PAAS_USERNS_POOL=START:COUNT`, handed out
 * by key. A container's key is its id unless the caller gives one: the platform gives the
 * app's id, so every instance of an app shares its range (its volumes and files keep one
 * owner) and two apps never share one. A range is held while a container holds it and goes
 * back to the pool with the last one (`rm`).
 *
 *   <PAAS_ROOT>/userns/ranges.json   { "ranges": [{ "key", "start", "holders": [ids] }] }
 *
 * Changed only under `ranges.lock` and written whole (atomic rename), so engines in several
 * processes (CLI, agent) never hand one range out twice.
 */
import { readFileSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import { PaasError } from '@paas/errors';

/** Ids in a container's namespace: 0..65535, as Docker's userns-remap and Podman's auto give. */
export const RANGE_SIZE = 65536;

/** The largest host id a range may reach: uid_t is 32 bits and (uid_t)-1 means "none". */
const MAX_ID = 2 ** 32 - 2;

/** The default pool's size: 16384 ranges, from the first free multiple of 65536 above 100000. */
const DEFAULT_RANGES = 16384;

export interface PoolSettings {
  readonly start: number;
  readonly count: number;
}

export type UsernsMode = 'host' | 'auto';

/** A container's user namespace as its record keeps it: host ids hostId.. are 0.. inside. */
export interface UsernsRange {
  readonly key: string;
  readonly hostId: number;
  readonly size: number;
}

export class UsernsError extends PaasError {
  readonly exitCode = 125;
  constructor(message: string, code: 'invalid_params' | 'unavailable' = 'invalid_params') {
    super(code, message);
  }
}

/** `--userns`: `host` (no namespace, Docker's default) or `auto` (a range of the pool). */
export function parseUsernsMode(value: string): UsernsMode {
  if (value === 'host' || value === 'auto') return value;
  throw new UsernsError(`invalid --userns "${value}": use "auto" or "host"`);
}

/** The ranges of /etc/subuid and /etc/subgid, [start, end) each: ranges the pool must not overlap. */
export function subordinateRanges(files = ['/etc/subuid', '/etc/subgid']): Array<[number, number, string]> {
  const ranges: Array<[number, number, string]> = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [, start, count] = line.trim().split(':');
      const s = Number(start);
      const c = Number(count);
      if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && c > 0)
        ranges.push([s, s + c, `${file}: ${line.trim()}`]);
    }
  }
  return ranges;
}

/**
 * The pool from `PAAS_USERNS_POOL` (`START:COUNT`, host ids; COUNT a multiple of 65536), or
 * by default DEFAULT_RANGES ranges from the first multiple of 65536 above 100000 and above
 * every /etc/subuid and /etc/subgid entry (rootless users' ids are theirs, not ours).
 */
export function poolSettings(
  value: string | undefined,
  taken: ReadonlyArray<[number, number, string]> = subordinateRanges(),
): PoolSettings {
  if (value === undefined || value === '') {
    const above = Math.max(100_000, ...taken.map(([, end]) => end));
    const start = Math.ceil(above / RANGE_SIZE) * RANGE_SIZE;
    const count = Math.min(DEFAULT_RANGES, Math.floor((MAX_ID + 1 - start) / RANGE_SIZE)) * RANGE_SIZE;
    return { start, count };
  }
  const bad = (why: string): UsernsError => new UsernsError(`invalid PAAS_USERNS_POOL "${value}": ${why}`);
  const m = /^(\d+):(\d+)$/.exec(value.trim());
  if (!m) throw bad('expected START:COUNT, host ids, e.g. 1048576:6553600');
  const start = Number(m[1]);
  const count = Number(m[2]);
  if (start < 1) throw bad('START must be above 0 (host root is never a container range)');
  if (count < RANGE_SIZE || count % RANGE_SIZE !== 0) throw bad(`COUNT must be a multiple of ${RANGE_SIZE}`);
  if (start + count - 1 > MAX_ID) throw bad(`the pool ends above ${MAX_ID}, the largest id`);
  const clash = taken.find(([s, e]) => start < e && s < start + count);
  if (clash) throw bad(`it overlaps ${clash[2]}`);
  return { start, count };
}

interface RangesFile {
  ranges: Array<{ key: string; start: number; holders: string[] }>;
}

export class UsernsPool {
  private readonly file: string;
  private readonly lock: string;

  /** `settings` is called when a range is first handed out: a bad pool setting fails only that. */
  constructor(
    root: string,
    private readonly settings: () => PoolSettings,
  ) {
    this.file = join(root, 'ranges.json');
    this.lock = join(root, 'ranges.lock');
  }

  /**
   * The range of `key` for `holder` (a container id): the key's range if it has one, else the
   * lowest free one of the pool. A pool with none free is an error naming it.
   */
  async acquire(key: string, holder: string): Promise<UsernsRange> {
    return withLock(this.lock, async () => {
      const state = await this.read();
      let range = state.ranges.find((r) => r.key === key);
      if (!range) {
        const pool = this.settings();
        const used = new Set(state.ranges.map((r) => r.start));
        const slots = pool.count / RANGE_SIZE;
        let start: number | undefined;
        for (let i = 0; i < slots && start === undefined; i++) {
          const candidate = pool.start + i * RANGE_SIZE;
          if (!used.has(candidate)) start = candidate;
        }
        if (start === undefined) {
          throw new UsernsError(
            `user namespace pool exhausted: all ${slots} ranges of PAAS_USERNS_POOL=` +
              `${pool.start}:${pool.count} are in use`,
            'unavailable',
          );
        }
        range = { key, start, holders: [] };
        state.ranges.push(range);
      }
      if (!range.holders.includes(holder)) range.holders.push(holder);
      await this.write(state);
      return { key, hostId: range.start, size: RANGE_SIZE };
    });
  }

  /** Gives back `holder`'s hold; a range nobody holds any more returns to the pool. */
  async release(holder: string): Promise<void> {
    await withLock(this.lock, async () => {
      const state = await this.read();
      let changed = false;
      for (const r of state.ranges) {
        const left = r.holders.filter((h) => h !== holder);
        if (left.length !== r.holders.length) changed = true;
        r.holders = left;
      }
      if (!changed) return;
      state.ranges = state.ranges.filter((r) => r.holders.length > 0);
      await this.write(state);
    });
  }

  /** Every range handed out, by key. */
  async list(): Promise<RangesFile['ranges']> {
    return (await this.read()).ranges;
  }

  private async read(): Promise<RangesFile> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as RangesFile;
      return { ranges: Array.isArray(parsed.ranges) ? parsed.ranges : [] };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ranges: [] };
      throw err;
    }
  }

  private async write(state: RangesFile): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(state));
  }
}

/**
 * Makes `path` and every directory above it searchable by others (o+x), which a container's
 * root in a user namespace needs: the runtime prepares the container (its bundle, rootfs and
 * mount sources) as that root, an unprivileged host id. Only directories inside `own` (the
 * engine's roots) are changed, and only by adding o+x (which lets no one list them); any
 * other directory that lacks it is an error naming it.
 */
export async function ensureSearchable(path: string, own: readonly string[]): Promise<void> {
  const inside = (dir: string): boolean => own.some((root) => dir === root || dir.startsWith(`${root}/`));
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const st = await stat(dir);
    if (st.isDirectory() && !(st.mode & 0o001)) {
      if (!inside(dir)) {
        throw new UsernsError(
          `--userns=auto: ${dir} is not searchable by others (chmod o+x ${dir}); ` +
            "a container's root in a user namespace must reach its bundle under it",
        );
      }
      await chmod(dir, (st.mode & 0o7777) | 0o001);
    }
    if (dirname(dir) === dir) return;
  }
}
