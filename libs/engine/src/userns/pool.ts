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
import { idmapCache } from '@paas/snapshots';

/** Ids in a container's namespace: 0..65535, as Docker's userns-remap and Podman's auto give. */
export const RANGE_SIZE = 65536;

/** The largest host id a range may reach: uid_t is 32 bits and (uid_t)-1 means "none". */
const MAX_ID = 2 ** 32 - 2;

/** The default pool's size: 16384 ranges (2^30 ids), above useradd's subordinate ids (poolSettings). */
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

/** Where the host gives users subordinate ids (shadow's newuidmap, rootless Podman read them). */
export interface SubidFiles {
  readonly subuid: string;
  readonly subgid: string;
}

export const SUBID_FILES: SubidFiles = { subuid: '/etc/subuid', subgid: '/etc/subgid' };

/** The user the pool is reserved for in the subid files (`paas:START:COUNT`). */
export const SUBID_OWNER = 'paas';

/** An entry of a subid file (`user:start:count`): ids [start, end) are `user`'s. */
export interface SubordinateRange {
  readonly start: number;
  readonly end: number;
  readonly user: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly text: string;
}

/** The entries of the subid files (a missing file has none): ranges the pool must not overlap. */
export function subordinateRanges(files: SubidFiles = SUBID_FILES): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const file of [files.subuid, files.subgid]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      const [user = '', start, count] = line.split(':');
      const s = Number(start);
      const c = Number(count);
      if (!line.startsWith('#') && Number.isSafeInteger(s) && Number.isSafeInteger(c) && c > 0)
        ranges.push({ start: s, end: s + c, user, file, line: i + 1, text: line });
    }
  }
  return ranges;
}

const describeRange = (r: SubordinateRange): string =>
  `${r.file} line ${r.line} ("${r.text}"): ids ${r.start}..${r.end - 1} are user ${r.user}'s`;

/**
 * The highest uid of /etc/passwd and gid of /etc/group, with the line it comes from: a pool
 * must start above it, or containers' ids would be real users' and groups'. 4294967294 and
 * 4294967295 ((uid_t)-2 and -1, an old nfsnobody) are no ids a range could reach anyway.
 */
export function highestSystemId(files = ['/etc/passwd', '/etc/group']): [number, string] | undefined {
  let highest: [number, string] | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const id = Number(line.split(':')[2]);
      if (line.trim() === '' || !Number.isSafeInteger(id) || id > MAX_ID - 1) continue;
      if (!highest || id > highest[0]) highest = [id, `${file}: ${line.trim()}`];
    }
  }
  return highest;
}

/** shadow's defaults for the subordinate ids useradd hands out (SUB_UID_MAX, SUB_GID_MAX). */
const SUBID_ALLOCATION_MAX = 600_100_000;

/**
 * The highest subordinate id useradd may hand a new user (SUB_UID_MAX and SUB_GID_MAX of
 * /etc/login.defs, shadow's defaults where it says nothing): the default pool starts above
 * it, so that reserving the pool never leaves useradd without a range to give.
 */
export function subordinateAllocationMax(file = '/etc/login.defs'): number {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return SUBID_ALLOCATION_MAX;
  }
  const value = (name: string): number => {
    const m = new RegExp(`^\\s*${name}\\s+(\\d+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : SUBID_ALLOCATION_MAX;
  };
  return Math.max(value('SUB_UID_MAX'), value('SUB_GID_MAX'));
}

/**
 * The pool from `PAAS_USERNS_POOL` (`START:COUNT`, host ids; COUNT a multiple of 65536), or
 * by default DEFAULT_RANGES ranges from the first multiple of 65536 above what useradd may
 * hand out as subordinate ids (subordinateAllocationMax), above every host user and group,
 * and above every /etc/subuid and /etc/subgid entry of another user (rootless users' ids are
 * theirs, not ours; the pool's own `paas` entries, reserveSubordinate's, do not move it).
 */
export function poolSettings(
  value: string | undefined,
  subordinate: readonly SubordinateRange[] = subordinateRanges(),
  system: [number, string] | undefined = highestSystemId(),
  allocationMax: number = subordinateAllocationMax(),
): PoolSettings {
  const taken = subordinate.filter((r) => r.user !== SUBID_OWNER);
  if (value === undefined || value === '') {
    const above = Math.max(100_000, allocationMax + 1, system ? system[0] + 1 : 0, ...taken.map((r) => r.end));
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
  if (system && start <= system[0])
    throw bad(`START must be above ${system[0]}, the highest id of a host user or group (${system[1]})`);
  if (count < RANGE_SIZE || count % RANGE_SIZE !== 0) throw bad(`COUNT must be a multiple of ${RANGE_SIZE}`);
  if (start + count - 1 > MAX_ID) throw bad(`the pool ends above ${MAX_ID}, the largest id`);
  const clash = taken.find((r) => start < r.end && r.start < start + count);
  if (clash) throw bad(`it overlaps ${describeRange(clash)}`);
  return { start, count };
}

/**
 * Reserves the pool in both subid files as `paas:START:COUNT` (added once: an entry that is
 * there already is kept, and so is one of an earlier pool, whose ranges may still be held),
 * so that no tool hands the pool's ids to a user later (useradd picks subordinate ids above
 * the entries it sees). Under shadow's lock file (`<file>.lock`, as useradd and usermod take
 * it); written whole. A file that cannot be written is an error naming it: a pool that is
 * not reserved is not used.
 */
export async function reserveSubordinate(pool: PoolSettings, files: SubidFiles = SUBID_FILES): Promise<void> {
  const entry = `${SUBID_OWNER}:${pool.start}:${pool.count}`;
  // a spec's pool is its own: the host's files are not a test's to change (node's test
  // runner sets NODE_TEST_CONTEXT in every spec's process and what it starts)
  if (process.env['NODE_TEST_CONTEXT'] && (files.subuid === SUBID_FILES.subuid || files.subgid === SUBID_FILES.subgid))
    throw new UsernsError(
      `a test would reserve ${entry} in the host's ${SUBID_FILES.subuid}: give it its own files ` +
        '(PAAS_SUBUID_FILE, PAAS_SUBGID_FILE; e2e/support/cli.ts tempRoots does)',
      'unavailable',
    );
  for (const file of [files.subuid, files.subgid]) {
    try {
      await withLock(`${file}.lock`, async () => {
        let text = '';
        let mode = 0o644;
        try {
          text = await readFile(file, 'utf8');
          mode = (await stat(file)).mode & 0o7777;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        // again under the lock: a user useradd gave ids since the pool was chosen
        const clash = subordinateRanges({ subuid: file, subgid: file }).find(
          (r) => r.user !== SUBID_OWNER && pool.start < r.end && r.start < pool.start + pool.count,
        );
        if (clash) throw new Error(`the pool overlaps ${describeRange(clash)}`);
        if (text.split('\n').some((line) => line.trim() === entry)) return;
        await writeFileAtomic(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${entry}\n`, mode);
      });
    } catch (err) {
      throw new UsernsError(
        `cannot reserve the user namespace pool (${entry}) in ${file}: ${(err as Error).message}`,
        'unavailable',
      );
    }
  }
}

interface RangesFile {
  /** `since`: when each holder took its hold (ms since the epoch). */
  ranges: Range[];
}

interface Range {
  key: string;
  start: number;
  holders: string[];
  since?: Record<string, number>;
}

/** Releases that came while the lock was busy: applied together, in one turn and one write. */
interface ReleaseBatch {
  readonly holders: Set<string>;
  readonly done: Promise<void>;
}

/** Takes the holders `gone` picks out of `range`, and their times; whether there were any. */
function dropHolders(range: Range, gone: (holder: string) => boolean): boolean {
  const left = range.holders.filter((h) => !gone(h));
  if (left.length === range.holders.length) return false;
  const since = range.since;
  if (since) range.since = Object.fromEntries(left.flatMap((h) => (since[h] === undefined ? [] : [[h, since[h]]])));
  range.holders = left;
  return true;
}

/**
 * Returns the ranges nobody holds to the pool, and drops this process's idmapped views of them
 * (a cache: they would only keep fds open).
 */
function dropUnheld(state: RangesFile): void {
  for (const r of state.ranges) if (r.holders.length === 0) idmapCache.forgetMapping(r.start);
  state.ranges = state.ranges.filter((r) => r.holders.length > 0);
}

/** A hold younger than this is kept even without its container (see dropStale). */
const STALE_AFTER_MS = 10 * 60 * 1000;

export class UsernsPool {
  private readonly file: string;
  private readonly lock: string;

  /** reserveSubordinate's, once a process for a pool setting. */
  private reserved: Promise<void> | undefined;
  /** The batch of releases not yet let in to the lock (see release). */
  private releasing: ReleaseBatch | undefined;

  /**
   * `settings` is called when a range is first handed out: a bad pool setting fails only that.
   * `live` gives the ids of the containers that exist: an acquire drops the holds of others (a
   * crash between removing a container and releasing its range left them). `subidFiles`: where
   * the pool is reserved before its first range is handed out; none, no reservation (the
   * default pool lies above every id useradd hands out: poolSettings).
   */
  constructor(
    root: string,
    private readonly settings: () => PoolSettings,
    private readonly live?: () => Promise<ReadonlySet<string>>,
    private readonly subidFiles: SubidFiles | null = null,
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
      if (this.live) this.dropStale(state, await this.live());
      let range = state.ranges.find((r) => r.key === key);
      if (!range) {
        const pool = this.settings();
        await this.reserve(pool);
        // by interval, not by start: ranges handed out under an earlier PAAS_USERNS_POOL may
        // sit off this pool's grid
        const free = (start: number): boolean =>
          !state.ranges.some((r) => r.start < start + RANGE_SIZE && start < r.start + RANGE_SIZE);
        const slots = pool.count / RANGE_SIZE;
        let start: number | undefined;
        for (let i = 0; i < slots && start === undefined; i++) {
          const candidate = pool.start + i * RANGE_SIZE;
          if (free(candidate)) start = candidate;
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
      (range.since ??= {})[holder] = Date.now();
      await this.write(state);
      return { key, hostId: range.start, size: RANGE_SIZE };
    });
  }

  /**
   * Drops the holds of containers that do not exist, but not one taken in the last
   * STALE_AFTER_MS: a container is recorded only after its range is acquired, maybe by
   * another engine process right now. Holds without a time come from before times were kept.
   */
  private dropStale(state: RangesFile, live: ReadonlySet<string>): void {
    const now = Date.now();
    for (const r of state.ranges) {
      const stale = (h: string): boolean => !live.has(h) && now - (r.since?.[h] ?? 0) > STALE_AFTER_MS;
      r.holders = r.holders.filter((h) => !stale(h));
      // a set: an app's range has a holder per instance, and every acquire passes here (a
      // thousand instances made this quadratic per acquire)
      const held = new Set(r.holders);
      if (r.since) r.since = Object.fromEntries(Object.entries(r.since).filter(([h]) => held.has(h)));
    }
    dropUnheld(state);
  }

  private async reserve(pool: PoolSettings): Promise<void> {
    const files = this.subidFiles;
    if (!files) return;
    this.reserved ??= reserveSubordinate(pool, files).catch((err: unknown) => {
      this.reserved = undefined;
      throw err;
    });
    await this.reserved;
  }

  /**
   * Gives back `holder`'s hold; a range nobody holds any more returns to the pool, and this
   * process's cached idmapped views of it are dropped.
   *
   * The releases that come while the lock is busy wait as one batch and are applied in one
   * turn, with one read and one write: a thousand instances of an app leaving at once each
   * read, filtered and wrote the whole file of a thousand holders in turn (quadratic, a second
   * of the agent's main thread), and their removals queued behind it. A batch closes once its
   * turn comes; later releases make the next one.
   */
  release(holder: string): Promise<void> {
    let batch = this.releasing;
    if (!batch) {
      const holders = new Set<string>();
      const done = withLock(this.lock, async () => {
        if (this.releasing?.holders === holders) this.releasing = undefined;
        await this.releaseAll(holders);
      });
      batch = { holders, done };
      this.releasing = batch;
    }
    batch.holders.add(holder);
    return batch.done;
  }

  private async releaseAll(holders: ReadonlySet<string>): Promise<void> {
    const state = await this.read();
    let changed = false;
    for (const r of state.ranges) if (dropHolders(r, (h) => holders.has(h))) changed = true;
    if (!changed) return;
    dropUnheld(state);
    await this.write(state);
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

/** Directories ensureSearchable changed and said so, in this process. */
const searchableWarned = new Set<string>();

/**
 * Makes `path` and every directory above it searchable by others (o+x), which a container's
 * root in a user namespace needs: the runtime prepares the container (its bundle, rootfs and
 * mount sources) as that root, an unprivileged host id. Only directories inside `own` (the
 * engine's roots) are changed, and only by adding o+x (which lets no one list them), each
 * reported once through `warn`; any other directory that lacks it is an error naming it.
 */
export async function ensureSearchable(
  path: string,
  own: readonly string[],
  warn: (message: string) => void = (message) => process.emitWarning(message, 'UsernsWarning'),
): Promise<void> {
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
      const mode = (st.mode & 0o7777) | 0o001;
      await chmod(dir, mode);
      // an operator may have closed it on purpose (PAAS_ROOT 0700): say so, once a directory
      if (!searchableWarned.has(dir)) {
        searchableWarned.add(dir);
        warn(
          `--userns=auto: made ${dir} searchable by others (mode ${(st.mode & 0o7777).toString(8)} -> ` +
            `${mode.toString(8)}): a container's root in a user namespace must reach its bundle under it`,
        );
      }
    }
    if (dirname(dir) === dir) return;
  }
}
