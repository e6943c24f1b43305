/**
 * Where each drain's delivery stands, in Redis beside the app's log stream (libs/platform
 * logs.ts), so a restarted api or a new scheduler leader continues where the last one stopped:
 * a hash per drain with
 *
 * - `cursor`: the stream id of the last line delivered (`0-0`: none yet);
 * - `seq`: that line's number among every line ever added to the stream (XINFO's
 *   `entries-added`, Redis 7): the stream is trimmed oldest-first (MAXLEN), and the number of
 *   the first line still present, `entries-added - length + 1`, says how many lines past the
 *   cursor were trimmed away before the drain took them (counted as dropped);
 * - `delivered`, `dropped`: totals; `behind`: lines lost so far while the drain is failing
 *   (counted into `dropped` once delivery resumes past them);
 * - `failingSince`, `lastError`: while deliveries fail.
 *
 * The cursor moves by compare-and-set: a forwarder of an older term that finishes a batch late
 * cannot move it back (no line is sent twice but the batch in flight when office changed).
 * App logs are only ever appended to and trimmed, never XDEL'd: that keeps the numbering true.
 */
import { LOG_PREFIX, type LogEntry, appLogKey, toLogEntry } from '@paas/platform';
import type { Redis } from 'ioredis';

export function drainStateKey(drainId: string): string {
  return `${LOG_PREFIX}:drain:${drainId}`;
}

export interface DrainState {
  readonly cursor: string;
  readonly seq: number;
  readonly delivered: number;
  /** Dropped so far, with those lost during the failure going on (`behind`). */
  readonly dropped: number;
  readonly failingSince: string | null;
  readonly lastError: string | null;
}

/**
 * Starts a drain at the end of its app's log (it gets the lines written from now on), unless
 * it has a state already. Atomic: the cursor and its number come from one look at the stream.
 */
const INIT = `
if redis.call('HEXISTS', KEYS[1], 'cursor') == 1 then return 0 end
local cursor, seq = '0-0', 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then cursor = info[i + 1] end
    if info[i] == 'entries-added' then seq = info[i + 1] end
  end
end
redis.call('HSET', KEYS[1], 'cursor', cursor, 'seq', seq, 'delivered', 0, 'dropped', 0, 'behind', 0)
return 1
`;

/** Moves the cursor if it is still where the batch was read from; 0 when it was not (or the drain is gone). */
const COMMIT = `
if redis.call('HGET', KEYS[1], 'cursor') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2], 'seq', ARGV[3], 'behind', 0)
redis.call('HINCRBY', KEYS[1], 'delivered', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'dropped', ARGV[5])
redis.call('HDEL', KEYS[1], 'failingSince', 'lastError')
return 1
`;

/** Records a failed delivery from the cursor `ARGV[1]`, if the drain still has it. */
const FAIL = `
if redis.call('HGET', KEYS[1], 'cursor') ~= ARGV[1] then return 0 end
redis.call('HSETNX', KEYS[1], 'failingSince', ARGV[2])
redis.call('HSET', KEYS[1], 'lastError', ARGV[3], 'behind', ARGV[4])
return 1
`;

export async function initDrainState(redis: Redis, drainId: string, appId: string): Promise<void> {
  await redis.eval(INIT, 2, drainStateKey(drainId), appLogKey(appId));
}

export async function readDrainState(redis: Redis, drainId: string): Promise<DrainState | null> {
  const h = await redis.hgetall(drainStateKey(drainId));
  if (h['cursor'] === undefined) return null;
  return {
    cursor: h['cursor'],
    seq: Number(h['seq'] ?? 0),
    delivered: Number(h['delivered'] ?? 0),
    dropped: Number(h['dropped'] ?? 0) + Number(h['behind'] ?? 0),
    failingSince: h['failingSince'] ?? null,
    lastError: h['lastError'] ?? null,
  };
}

export async function removeDrainState(redis: Redis, ...drainIds: string[]): Promise<void> {
  if (drainIds.length) await redis.del(...drainIds.map(drainStateKey));
}

/** Up to `count` lines after a drain's cursor, and how many lines between were trimmed away. */
export interface DrainBatch {
  readonly entries: LogEntry[];
  /** Lines after the cursor that the stream no longer has (dropped, oldest first). */
  readonly dropped: number;
  /** The number (`seq`) of the last entry, for the cursor once delivered. */
  readonly lastSeq: number;
}

/** Reads the next batch from `cursor` (whose number is `seq`), with XINFO in the same transaction. */
export async function readDrainBatch(
  redis: Redis,
  appId: string,
  cursor: string,
  seq: number,
  count: number,
): Promise<DrainBatch> {
  const key = appLogKey(appId);
  const results = (await redis.multi().xinfo('STREAM', key).xread('COUNT', count, 'STREAMS', key, cursor).exec()) ?? [];
  const [infoResult, readResult] = results;
  // no stream (yet, or any more): nothing to send
  if (!infoResult || infoResult[0]) return { entries: [], dropped: 0, lastSeq: seq };
  if (readResult?.[0]) throw readResult[0];
  const info = new Map<string, unknown>();
  const flat = infoResult[1] as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
  const rows = ((readResult?.[1] as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? []) as [string, string[]][];
  if (rows.length === 0) return { entries: [], dropped: 0, lastSeq: seq };
  const added = Number(info.get('entries-added'));
  const length = Number(info.get('length'));
  const firstId = (info.get('first-entry') as [string, string[]] | null)?.[0];
  // XREAD returns every line after the cursor that is left: only when the first of them is the
  // stream's first can lines between the cursor and it have been trimmed
  let firstSeq = seq + 1;
  if (rows[0]?.[0] === firstId && Number.isFinite(added)) firstSeq = Math.max(seq + 1, added - length + 1);
  return {
    entries: rows.map(([id, fields]) => toLogEntry(id, fields)),
    dropped: firstSeq - (seq + 1),
    lastSeq: firstSeq + rows.length - 1,
  };
}

/** Records a delivered batch read from `from`; false when the cursor had moved (another forwarder) or the drain went. */
export async function commitDelivery(redis: Redis, drainId: string, from: string, batch: DrainBatch): Promise<boolean> {
  const last = batch.entries.at(-1);
  if (!last) return true;
  const moved = await redis.eval(
    COMMIT,
    1,
    drainStateKey(drainId),
    from,
    last.id,
    String(batch.lastSeq),
    String(batch.entries.length),
    String(batch.dropped),
  );
  return moved === 1;
}

/** Records a failed delivery from `from`: since when it fails, why, and the lines lost meanwhile. */
export async function recordFailure(
  redis: Redis,
  drainId: string,
  from: string,
  error: string,
  behind: number,
  now: Date,
): Promise<void> {
  await redis.eval(FAIL, 1, drainStateKey(drainId), from, now.toISOString(), error.slice(0, 500), String(behind));
}
