/**
 * The mechanics of a versioned table in Redis, shared by the route table (routes.ts) and the
 * certificate table (certs/table.ts): one home for the protocol, each table bringing its own
 * names and its own entry parser. A table lives under three names:
 *
 *   KEY           hash     field (an app name) -> JSON entry
 *   KEY:version   string   a counter; every change to the hash increments it
 *   CHANNEL       channel  every change publishes {"version":N,"app":"NAME"}
 *
 * Writers change the hash, bump the version and publish in one Lua script (`writeEntry`): the
 * change is atomic, and messages arrive in version order. Readers (`TableWatcher`) load the
 * whole table with its version in one MULTI, then on a message whose version is theirs + 1
 * re-read that one entry; on a gap (a message missed while disconnected), on a reconnect, or
 * when the periodic version check finds the version moved, they reload the whole table. An
 * entry that does not parse is reported and skipped, never fatal.
 *
 * A Redis that lost the table (restarted empty, or from an older snapshot: appendfsync
 * everysec loses the last second's writes) shows a version lower than the one last seen. A
 * reader then keeps what it has: while the table in Redis is empty, until a writer writes
 * again; while it holds an older table, HOLD_OLDER_MS at most (those entries may name
 * instances gone since: serving them fails requests). A writer that finds the version went
 * back writes its whole table again in one script (`rebuildTable`), past the version it last
 * wrote itself (what readers may have seen) plus two, so every reader sees a newer version
 * with a gap and reloads the table whole, never half rebuilt. A writer that never saw the
 * lost versions (a new leader) writes on from the older table, which readers take once their
 * hold ends.
 */
import type { Redis } from 'ioredis';
import { whenReady } from './redis';
import { isRoutableAppName } from './names';

/** Where a table lives in Redis. */
export interface TableNames {
  readonly key: string;
  readonly versionKey: string;
  readonly channel: string;
}

/** A table: its names and how one stored entry is read. */
export interface TableSpec<T> extends TableNames {
  /**
   * The entry stored under `field`; throws an Error saying what is wrong to skip it whole.
   * `report` takes problems with parts of an entry that was kept (e.g. one bad item of a list).
   */
  parse(field: string, json: string, report: (problem: string) => void): T;
}

/** An entry (or part of one) skipped because it does not parse. */
export interface InvalidEntry {
  readonly field: string;
  readonly error: string;
}

export interface TableRead<T> {
  readonly version: number;
  readonly entries: Map<string, T>;
  readonly invalid: InvalidEntry[];
}

/** A value for a message: JSON, cut to 80 characters. */
export function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// KEYS: hash, version key. ARGV: field, JSON (empty to remove), channel.
// Returns the new version, or -1 when removing a field that was not there.
const WRITE_SCRIPT = `
if ARGV[2] == '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], '{"version":' .. version .. ',"app":"' .. ARGV[1] .. '"}')
return version
`;

// KEYS: hash, version key. ARGV: channel, the version to go past, then field and JSON pairs.
// Returns the new version.
const REBUILD_SCRIPT = `
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local version = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') or 0, tonumber(ARGV[2])) + 2
redis.call('SET', KEYS[2], version)
redis.call('PUBLISH', ARGV[1], '{"version":' .. version .. ',"app":"' .. (ARGV[3] or '') .. '"}')
return version
`;

/** How long a reader keeps its table while Redis holds an older one that is not empty. */
export const HOLD_OLDER_MS = 10_000;

/**
 * Sets (or with `json` null removes) one entry, bumps the version and announces it. `field`
 * must already be checked (it goes into the message as is). Returns the new version, or null
 * when removing an entry that was not there.
 */
export async function writeEntry(
  redis: Redis,
  names: TableNames,
  field: string,
  json: string | null,
): Promise<number | null> {
  if (!isRoutableAppName(field)) throw new Error(`${names.key}: field ${describe(field)} is not an app name`);
  const version = Number(
    await redis.eval(WRITE_SCRIPT, 2, names.key, names.versionKey, field, json ?? '', names.channel),
  );
  return version < 0 ? null : version;
}

/**
 * Replaces the whole table with `entries` (checked field -> JSON) at once, its version past
 * both Redis's and `past` (the last version this writer wrote: readers may hold it) by two.
 * Returns the new version.
 */
export async function rebuildTable(
  redis: Redis,
  names: TableNames,
  entries: Iterable<readonly [string, string]>,
  past = 0,
): Promise<number> {
  const pairs: string[] = [];
  for (const [field, json] of entries) {
    if (!isRoutableAppName(field)) throw new Error(`${names.key}: field ${describe(field)} is not an app name`);
    pairs.push(field, json);
  }
  const floor = Number.isSafeInteger(past) && past > 0 ? past : 0;
  return Number(
    await redis.eval(REBUILD_SCRIPT, 2, names.key, names.versionKey, names.channel, String(floor), ...pairs),
  );
}

export function versionOf(value: unknown): number {
  const version = Number(value ?? 0);
  return Number.isSafeInteger(version) && version >= 0 ? version : 0;
}

/** The table's version (0 when Redis has none). */
export async function tableVersion(redis: Redis, names: TableNames): Promise<number> {
  return versionOf(await redis.get(names.versionKey));
}

function execResults(results: [Error | null, unknown][] | null, what: string): unknown[] {
  if (!results) throw new Error(`redis: the MULTI reading ${what} was discarded`);
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function parseInto<T>(spec: TableSpec<T>, field: string, json: string, invalid: InvalidEntry[]): T | null {
  try {
    return spec.parse(field, json, (error) => invalid.push({ field, error }));
  } catch (err) {
    invalid.push({ field, error: (err as Error).message });
    return null;
  }
}

/** The whole table and its version, read in one MULTI so they agree. */
export async function readTable<T>(redis: Redis, spec: TableSpec<T>): Promise<TableRead<T>> {
  const [version, stored] = execResults(await redis.multi().get(spec.versionKey).hgetall(spec.key).exec(), spec.key);
  const entries = new Map<string, T>();
  const invalid: InvalidEntry[] = [];
  for (const [field, json] of Object.entries((stored ?? {}) as Record<string, string>)) {
    const value = parseInto(spec, field, json, invalid);
    if (value !== null) entries.set(field, value);
  }
  return { version: versionOf(version), entries, invalid };
}

/** One entry (null when absent or skipped) and the table's version, read together. */
export async function readEntry<T>(
  redis: Redis,
  spec: TableSpec<T>,
  field: string,
): Promise<{ version: number; entry: T | null; invalid: InvalidEntry[] }> {
  const [version, json] = execResults(
    await redis.multi().get(spec.versionKey).hget(spec.key, field).exec(),
    `${spec.key} ${field}`,
  );
  const invalid: InvalidEntry[] = [];
  if (json === null || json === undefined) return { version: versionOf(version), entry: null, invalid };
  return { version: versionOf(version), entry: parseInto(spec, field, String(json), invalid), invalid };
}

/** A change announcement, or null when the text is not one. */
export function parseChangeMessage(text: string): { version: number; app: string } | null {
  try {
    const value = JSON.parse(text) as { version?: unknown; app?: unknown };
    if (typeof value !== 'object' || value === null) return null;
    const { version, app } = value;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return null;
    if (typeof app !== 'string' || !isRoutableAppName(app)) return null;
    return { version, app };
  } catch {
    return null;
  }
}

export interface TableChange {
  readonly version: number;
  /** The fields (apps) whose entry changed, or 'all' after a full reload. */
  readonly apps: readonly string[] | 'all';
}

export interface TableWatcherOptions<T> {
  /** A connection for reads. */
  readonly reader: Redis;
  /** A connection of its own: once subscribed it can do nothing else (it may serve several watchers). */
  readonly subscriber: Redis;
  /** How often to compare versions, in case a message was lost (default 5 s). */
  readonly resyncMs?: number;
  /** How long to keep the table while Redis holds an older one (default HOLD_OLDER_MS). */
  readonly holdOlderMs?: number;
  /** Milliseconds of a clock (default Date.now). */
  readonly now?: () => number;
  /** Called after each applied change, with the whole table. */
  onChange(entries: ReadonlyMap<string, T>, change: TableChange): void;
  /** Invalid entries, unreadable messages, failed reads: worth a log line, never fatal. */
  onProblem?(message: string): void;
}

/** Keeps a live copy of one table (see the top of this file for the protocol). */
export class TableWatcher<T> {
  private current = new Map<string, T>();
  private currentVersion = -1;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Redis holds an older table (empty, or not) than this one, served meanwhile: since when. */
  private holdingSince: number | null = null;
  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== this.spec.channel) return;
    const message = parseChangeMessage(text);
    if (!message) {
      this.problem(`${this.spec.channel}: ignored a message that is not {"version":N,"app":NAME}: ${describe(text)}`);
      this.enqueue(() => this.reload(false));
      return;
    }
    this.enqueue(() => this.apply(message));
  };
  /** The subscriber lost its connection since `start`: its next 'ready' is a reconnect. */
  private disconnected = false;
  private readonly onClose = (): void => {
    this.disconnected = true;
  };
  private readonly onReady = (): void => {
    // ioredis emits 'ready' on a later tick, so a connection still being made when `start`
    // ran reports its first 'ready' after the table is loaded: only one that follows a
    // 'close' is a reconnect, after which messages may have been missed.
    if (!this.disconnected) return;
    this.disconnected = false;
    if (this.currentVersion >= 0) this.enqueue(() => this.reload(false));
  };

  constructor(
    private readonly spec: TableSpec<T>,
    private readonly options: TableWatcherOptions<T>,
  ) {}

  get version(): number {
    return this.currentVersion;
  }

  get entries(): ReadonlyMap<string, T> {
    return this.current;
  }

  /** Subscribes, then loads the whole table; resolves once it is loaded. */
  async start(): Promise<void> {
    const { subscriber } = this.options;
    subscriber.on('message', this.onMessage);
    subscriber.on('close', this.onClose);
    subscriber.on('ready', this.onReady);
    await whenReady(subscriber);
    await subscriber.subscribe(this.spec.channel);
    await this.enqueue(() => this.reload(true));
    this.timer = setInterval(() => {
      if (this.pending === 0) this.enqueue(() => this.resync());
    }, this.options.resyncMs ?? 5000);
    this.timer.unref();
  }

  /** Compares versions now, as the periodic check does, and reloads when they differ. */
  check(): Promise<void> {
    return this.enqueue(() => this.resync());
  }

  /** Stops listening; the connections stay open (their owner closes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.options.subscriber.off('message', this.onMessage);
    this.options.subscriber.off('close', this.onClose);
    this.options.subscriber.off('ready', this.onReady);
    await this.options.subscriber.unsubscribe(this.spec.channel).catch(() => undefined);
  }

  private problem(message: string): void {
    this.options.onProblem?.(message);
  }

  private report(invalid: readonly InvalidEntry[]): void {
    for (const bad of invalid) this.problem(`${this.spec.key}: skipped app ${JSON.stringify(bad.field)}: ${bad.error}`);
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = this.chain.then(async () => {
      try {
        if (!this.stopped) await job();
      } finally {
        this.pending--;
      }
    });
    this.chain = run.catch((err: unknown) => this.problem(`${this.spec.key}: ${(err as Error).message}`));
    return run;
  }

  private async apply(message: { version: number; app: string }): Promise<void> {
    if (message.version !== this.currentVersion + 1 || this.holdingSince !== null) {
      // A gap (missed messages), a version that went back (Redis restarted empty), or one
      // past ours while ours is held over an older table in Redis: a writer writes on from
      // that table, so it is taken whole, not one entry on top of ours.
      await this.reload(false);
      return;
    }
    const read = await readEntry(this.options.reader, this.spec, message.app);
    if (read.version !== message.version) {
      // More changes landed since this message: take them all at once.
      await this.reload(false);
      return;
    }
    this.report(read.invalid);
    const next = new Map(this.current);
    if (read.entry !== null) next.set(message.app, read.entry);
    else next.delete(message.app);
    this.current = next;
    this.currentVersion = read.version;
    this.options.onChange(this.current, { version: read.version, apps: [message.app] });
  }

  private async reload(initial: boolean): Promise<void> {
    const table = await readTable(this.options.reader, this.spec);
    this.report(table.invalid);
    if (!initial && table.version === this.currentVersion) return;
    if (!initial && table.version < this.currentVersion && this.current.size > 0) {
      const now = (this.options.now ?? Date.now)();
      const empty = table.entries.size === 0;
      if (this.holdingSince === null) {
        this.holdingSince = now;
        this.problem(
          `${this.spec.key} is ${empty ? 'empty' : 'older'} at version ${table.version}, older than ` +
            `${this.currentVersion} (Redis lost writes?): serving the last table until the control plane writes ` +
            (empty ? 'it again' : `it again, ${(this.options.holdOlderMs ?? HOLD_OLDER_MS) / 1000} s at most`),
        );
      }
      if (empty || now - this.holdingSince < (this.options.holdOlderMs ?? HOLD_OLDER_MS)) {
        // looked at again on the next message or resync
        return;
      }
      this.problem(`${this.spec.key}: taking the table at version ${table.version}: nothing newer came`);
    }
    this.holdingSince = null;
    this.current = table.entries;
    this.currentVersion = table.version;
    this.options.onChange(this.current, { version: table.version, apps: 'all' });
  }

  private async resync(): Promise<void> {
    const version = await tableVersion(this.options.reader, this.spec);
    if (version !== this.currentVersion) await this.reload(false);
  }
}
