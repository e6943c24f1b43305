/**
 * Scale to zero, between the routers and the scheduler leader (#24), in Redis:
 *
 *   paas:activity:APP  hash    router id -> "LAST IN_FLIGHT AT": when that router last took a
 *                              request for APP (ms since the epoch), how many it has in flight,
 *                              and when it said so. A router's primary writes the apps whose
 *                              numbers moved, at most once a second; the leader's pass reads
 *                              those of apps with autoscale to decide which go to sleep. A
                              router that stops removes its field, keeping its latest request
                              in the field `left`.
 *   paas:wake:APP      string  a wake asked for: the time it was asked (ms since the epoch), set
 *                              with NX and a short TTL, so that however many router workers and
 *                              replicas ask, one asks and the rest join it; the asker then kicks
 *                              the leader (scheduling/kick.ts), which wakes APP at once.
 *
 *   paas:wake:APP:first-byte  string  how long (ms) the first request a router held for APP's
 *                              wake waited for the first byte of its answer; the leader puts it
 *                              in the app's log beside the other stages, then deletes it.
 *
 * A sleeping app's route says `sleeping` (routes.ts): its routers hold its requests and ask.
 */
import type { Redis } from 'ioredis';
import type { AppActivity } from './formation';
import { askForPass } from './scheduling/kick';

const ACTIVITY_PREFIX = 'paas:activity:';
const WAKE_PREFIX = 'paas:wake:';
/** An app nobody asks for loses its activity after a week (the leader then counts from its formation). */
const ACTIVITY_TTL_MS = 7 * 86_400_000;
/** A router silent this long no longer holds requests in flight (it died with them). */
export const ACTIVITY_FRESH_MS = 15_000;
/** How long a wake asked for is joined rather than asked again. */
export const WAKE_ASK_TTL_MS = 10_000;

export const activityKey = (app: string): string => `${ACTIVITY_PREFIX}${app}`;
export const wakeKey = (app: string): string => `${WAKE_PREFIX}${app}`;

/** One router's numbers for one app. */
export interface RouterActivity extends AppActivity {
  readonly app: string;
}

/** Writes a router's activity of the apps given, in one round trip. */
export async function reportActivity(
  redis: Redis,
  router: string,
  apps: readonly RouterActivity[],
  now = Date.now(),
): Promise<void> {
  if (apps.length === 0) return;
  const pipeline = redis.pipeline();
  for (const a of apps) {
    pipeline.hset(activityKey(a.app), router, `${a.lastRequestAt} ${a.inflight} ${now}`);
    pipeline.pexpire(activityKey(a.app), ACTIVITY_TTL_MS);
  }
  await pipeline.exec();
}

/** The field that keeps the latest request of the routers that stopped (see removeActivity). */
const LEFT_FIELD = 'left';

/**
 * A router stops: its fields go, so that routers restarting under new ids do not pile up in
 * the apps' hashes. Its latest request stays in the `left` field (the idle period still
 * counts from it); it had nothing in flight any more.
 */
export async function removeActivity(
  redis: Redis,
  router: string,
  apps: readonly string[],
  now = Date.now(),
): Promise<void> {
  if (apps.length === 0) return;
  const read = redis.pipeline();
  for (const app of apps) read.hmget(activityKey(app), router, LEFT_FIELD);
  const results = (await read.exec()) ?? [];
  const write = redis.pipeline();
  apps.forEach((app, i) => {
    const [err, value] = results[i] ?? [null, null];
    if (err || !Array.isArray(value) || value[0] === null) return;
    const last = Math.max(...value.map((text) => Number(String(text ?? '').split(' ')[0]) || 0));
    write.hset(activityKey(app), LEFT_FIELD, `${last} 0 ${now}`);
    write.hdel(activityKey(app), router);
  });
  await write.exec();
}

/**
 * Every router's activity of these apps, summed: the latest request any router saw, and the
 * requests in flight of the routers heard from within ACTIVITY_FRESH_MS. An app no router
 * reported is absent.
 */
export async function readActivity(
  redis: Redis,
  apps: readonly string[],
  now = Date.now(),
): Promise<Map<string, AppActivity>> {
  const out = new Map<string, AppActivity>();
  if (apps.length === 0) return out;
  const pipeline = redis.pipeline();
  for (const app of apps) pipeline.hgetall(activityKey(app));
  const results = (await pipeline.exec()) ?? [];
  apps.forEach((app, i) => {
    const [err, value] = results[i] ?? [null, null];
    if (err || !value || typeof value !== 'object') return;
    let lastRequestAt = 0;
    let inflight = 0;
    let any = false;
    for (const text of Object.values(value as Record<string, string>)) {
      const [last, held, at] = text.split(' ').map(Number);
      if (!Number.isFinite(last) || !Number.isFinite(held) || !Number.isFinite(at)) continue;
      any = true;
      lastRequestAt = Math.max(lastRequestAt, last as number);
      if (now - (at as number) <= ACTIVITY_FRESH_MS) inflight += held as number;
    }
    if (any) out.set(app, { lastRequestAt, inflight });
  });
  return out;
}

/**
 * Asks for a wake of `app`: true when this call asked (then the leader is kicked), false when
 * a wake asked within WAKE_ASK_TTL_MS is joined.
 */
export async function requestWake(redis: Redis, app: string, now = Date.now()): Promise<boolean> {
  const set = await redis.set(wakeKey(app), String(now), 'PX', WAKE_ASK_TTL_MS, 'NX');
  if (set !== 'OK') return false;
  await askForPass(redis);
  return true;
}

/** The wakes asked for of these apps: when each was asked (ms since the epoch). */
export async function readWakeRequests(redis: Redis, apps: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (apps.length === 0) return out;
  const values = await redis.mget(...apps.map(wakeKey));
  apps.forEach((app, i) => {
    const at = Number(values[i] ?? NaN);
    if (Number.isFinite(at)) out.set(app, at);
  });
  return out;
}

/** The leader took the wake up (or gave it up): the next ask is a new wake. */
export async function clearWakeRequest(redis: Redis, app: string): Promise<void> {
  await redis.del(wakeKey(app));
}

const firstByteKey = (app: string): string => `${WAKE_PREFIX}${app}:first-byte`;

/** A router sent the first byte of a woken app's first held request `ms` after it came (kept a minute). */
export async function reportFirstByte(redis: Redis, app: string, ms: number): Promise<void> {
  await redis.set(firstByteKey(app), String(Math.round(ms)), 'PX', 60_000, 'NX');
}

/** The first byte of the app's last wake (ms after its first request), taken: read once. */
export async function takeFirstByte(redis: Redis, app: string): Promise<number | null> {
  const value = await redis.getdel(firstByteKey(app));
  const ms = Number(value ?? NaN);
  return Number.isFinite(ms) ? ms : null;
}
