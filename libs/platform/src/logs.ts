/**
 * Live log lines through Redis streams: one stream per build (the build's output, replayable
 * from the start while a client follows it) and one per app (platform events such as releases
 * and scaling, and later the instances' output). Streams are capped so they cannot grow
 * without bound; a finished build's whole output is also kept in the database.
 */
import type { Redis } from 'ioredis';
import { QUEUE_PREFIX } from './queue';

export const BUILD_LOG_MAX = 50_000;
export const APP_LOG_MAX = 10_000;
/** A finished build's stream lives this long for late followers, then the database has it. */
const BUILD_LOG_TTL_SECONDS = 3600;

/** The Redis key prefix of every log stream: the queues' own, so one Redis holds a platform's keys together. */
export const LOG_PREFIX = QUEUE_PREFIX;

export function buildLogKey(buildId: string): string {
  return `${LOG_PREFIX}:build-log:${buildId}`;
}

export function appLogKey(appId: string): string {
  return `${LOG_PREFIX}:app-log:${appId}`;
}

export interface LogEntry {
  /** Stream entry id (`<ms>-<seq>`), usable as a cursor. */
  readonly id: string;
  /** ISO time. */
  readonly t: string;
  /** Who said it: `build`, `api`, `web.1`, `release`... */
  readonly source: string;
  readonly line: string;
  /** Set on the last entry of a build stream: the build's final status. */
  readonly end?: string;
}

/**
 * Appends one line. `existingOnly` writes only to a stream that exists: for writers that may
 * race with the app's deletion (the scheduler), so that a late line cannot recreate the log
 * of an app that is gone.
 */
export async function appendLog(
  redis: Redis,
  key: string,
  source: string,
  line: string,
  maxLen: number,
  { existingOnly = false } = {},
): Promise<void> {
  const fields = ['t', new Date().toISOString(), 's', source, 'l', line];
  if (existingOnly) await redis.xadd(key, 'NOMKSTREAM', 'MAXLEN', '~', String(maxLen), '*', ...fields);
  else await redis.xadd(key, 'MAXLEN', '~', String(maxLen), '*', ...fields);
}

export interface AppLogOptions {
  /** Write only if the app's log exists (see `appendLog`): for writers that may outlive the app. */
  readonly existingOnly?: boolean;
  /** Told when the write failed; the default drops the error. */
  readonly onError?: (err: Error) => void;
}

/**
 * The one writer of an app's log (`app[source]: line`, as Heroku shows it): the api, the build
 * pipeline, the scheduler and the agents all write through here. Best effort: whatever it
 * describes has already happened, so a Redis hiccup must not fail it; `onError` hears of it.
 */
export async function writeAppLog(
  redis: Redis,
  appId: string,
  source: string,
  line: string,
  { existingOnly = false, onError }: AppLogOptions = {},
): Promise<void> {
  try {
    await appendLog(redis, appLogKey(appId), source, line, APP_LOG_MAX, { existingOnly });
  } catch (err) {
    onError?.(err instanceof Error ? err : new Error(String(err)));
  }
}

/** One line for an app's log, as `writeAppLogs` takes them. */
export interface AppLogLine {
  readonly appId: string;
  readonly source: string;
  readonly line: string;
}

/**
 * Appends many lines in one round trip (a pipeline of XADDs, in order), to logs that exist
 * only: their writers (the agents, through the api) may outlive the app. Throws when Redis
 * does not answer, so the caller can say the lines were not written.
 */
export async function writeAppLogs(redis: Redis, lines: readonly AppLogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const t = new Date().toISOString();
  const pipeline = redis.pipeline();
  for (const { appId, source, line } of lines) {
    pipeline.xadd(
      appLogKey(appId),
      'NOMKSTREAM',
      'MAXLEN',
      '~',
      String(APP_LOG_MAX),
      '*',
      't',
      t,
      's',
      source,
      'l',
      line,
    );
  }
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}

/** Marks a build stream finished; followers stop after this entry. */
export async function endLog(
  redis: Redis,
  key: string,
  status: string,
  ttlSeconds = BUILD_LOG_TTL_SECONDS,
): Promise<void> {
  await redis
    .multi()
    .xadd(key, '*', 't', new Date().toISOString(), 's', 'end', 'l', '', 'end', status)
    .expire(key, ttlSeconds)
    .exec();
}

/** A stream entry (XRANGE/XREAD's `[id, [field, value...]]`) as a LogEntry. */
export function toLogEntry(id: string, fields: string[]): LogEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  const end = map.get('end');
  return {
    id,
    t: map.get('t') ?? '',
    source: map.get('s') ?? '',
    line: map.get('l') ?? '',
    ...(end !== undefined ? { end } : {}),
  };
}

/** The last `count` entries (oldest first). */
export async function tailLog(redis: Redis, key: string, count: number): Promise<LogEntry[]> {
  const rows = (await redis.xrevrange(key, '+', '-', 'COUNT', count)) as [string, string[]][];
  return rows.reverse().map(([id, fields]) => toLogEntry(id, fields));
}

/**
 * Where a stream ends now: the id of its newest entry (`0` when it has none). Following from
 * it yields exactly what is appended after this call; take it before telling anyone the
 * follow has begun (`$` in followLog is only resolved once the iteration starts).
 */
export async function logCursor(redis: Redis, key: string): Promise<string> {
  const newest = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return newest[0]?.[0] ?? '0';
}

/**
 * Follows a stream from after `cursor` (`0` = from the start, `$` = only new entries),
 * yielding entries until one carries `end` or `signal` aborts. Uses its own blocking
 * connection (a duplicate of `redis`), closed when the iteration stops.
 */
export async function* followLog(
  redis: Redis,
  key: string,
  cursor: string,
  signal?: AbortSignal,
): AsyncGenerator<LogEntry> {
  const reader = redis.duplicate();
  // a duplicate has none of the client's listeners: while Redis is away it reconnects by
  // itself and the read waits in its offline queue (no "Unhandled error event" per retry)
  reader.on('error', () => undefined);
  // An abort ends the follow at once, whatever the reader is doing: a read waiting in the
  // offline queue of a reader disconnected while it reconnected (Redis away) never settles,
  // and a follower waiting on it would hang with it.
  let aborted: (() => void) | undefined;
  const stopped = new Promise<null>((resolve) => (aborted = () => resolve(null)));
  const abort = (): void => {
    aborted?.();
    reader.disconnect();
  };
  if (signal?.aborted) abort();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    const start = cursor === '$' ? logCursor(reader, key) : Promise.resolve(cursor);
    start.catch(() => undefined); // as a read's, below
    let last = await Promise.race([start, stopped]);
    while (!signal?.aborted && last !== null) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        const read = reader.xread('COUNT', 500, 'BLOCK', 5000, 'STREAMS', key, last) as Promise<
          [string, [string, string[]][]][] | null
        >;
        read.catch(() => undefined); // settled after an abort: nobody waits for it any more
        reply = await Promise.race([read, stopped]);
        if (signal?.aborted) return;
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        last = id;
        const entry = toLogEntry(id, fields);
        yield entry;
        if (entry.end !== undefined) return;
      }
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    reader.disconnect();
  }
}
