/**
 * The formation as users see it, shared by the api, the CLI and the dashboard (pure, for the
 * browser too): how many instances a process type may ask for, and what it is doing in words,
 * from its quantity, how many are up, and how many no node has room for yet (and why).
 */

/**
 * How many instances of one process type an app may ask for at most, whatever the nodes hold
 * (the formation API also refuses more than the nodes could ever hold, with that number).
 */
export const MAX_QUANTITY = 10_000;

export interface FormationCounts {
  readonly quantity: number;
  readonly up: number;
  readonly waiting: number;
  readonly waitingReason: string | null;
}

/**
 * What a process type is doing, as a user reads it: `3 up`, `2 of 3 up, 1 starting`,
 * `2 of 4 up, 2 waiting: no node has 512 MiB free`.
 */
export function formationState(f: FormationCounts): string {
  if (f.quantity === 0 && f.up === 0) return 'none';
  if (f.up === f.quantity && f.waiting === 0) return `${f.up} up`;
  const starting = Math.max(0, f.quantity - f.up - f.waiting);
  const parts = [`${f.up} of ${f.quantity} up`];
  if (starting > 0) parts.push(`${starting} starting`);
  if (f.waiting > 0) parts.push(`${f.waiting} waiting${f.waitingReason ? `: ${f.waitingReason}` : ''}`);
  if (f.up > f.quantity) parts[0] = `${f.up} up, going to ${f.quantity}`;
  return parts.join(', ');
}

/**
 * A process type's autoscale settings (`paas ps:autoscale:enable`): its instance count stays
 * between `min` and `max`; with `min` 0 it goes to zero after `idleMs` without a request and
 * with nothing in flight (it sleeps), and the routers wake it on the next request.
 * `concurrency` is the target of requests in flight per instance (Fly's soft limit);
 * `hardLimit`, when set, the most a router worker sends one instance at once (Fly's hard
 * limit): beyond, requests queue at the router, then answer 503.
 */
export interface Autoscale {
  readonly min: number;
  readonly max: number;
  readonly concurrency: number;
  readonly idleMs: number;
  /** Absent or null: no hard limit. */
  readonly hardLimit?: number | null;
}

/** The one process type autoscale acts on (and that sleeps): the one routers send requests to. */
export const AUTOSCALED_TYPE = 'web';

/** The quiet period may not be shorter than this (a pass looks about once a second). */
export const MIN_IDLE_MS = 1000;
/** ...nor longer than a week. */
export const MAX_IDLE_MS = 7 * 86_400_000;
export const MAX_CONCURRENCY = 10_000;
export const DURATION_RULE = 'a whole number with a unit: 500ms, 30s, 15m, 2h or 1d';

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `15m` -> 900000; null when it is not DURATION_RULE. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
}

/** 900000 -> `15m`: the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** What is wrong with autoscale settings, by field; empty when nothing is. */
export function autoscaleProblems(a: Autoscale, maxQuantity = MAX_QUANTITY): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const whole = (field: keyof Autoscale, value: number, low: number, high: number): void => {
    if (!Number.isSafeInteger(value) || value < low || value > high)
      problems.push({ field, message: `${field} must be a whole number from ${low} to ${high}, not ${value}` });
  };
  whole('min', a.min, 0, maxQuantity);
  whole('max', a.max, 1, maxQuantity);
  whole('concurrency', a.concurrency, 1, MAX_CONCURRENCY);
  if (!Number.isSafeInteger(a.idleMs) || a.idleMs < MIN_IDLE_MS || a.idleMs > MAX_IDLE_MS)
    problems.push({
      field: 'idle',
      message: `idle must be from ${formatDuration(MIN_IDLE_MS)} to ${formatDuration(MAX_IDLE_MS)}`,
    });
  if (a.hardLimit != null) whole('hardLimit', a.hardLimit, 1, MAX_CONCURRENCY);
  if (problems.length === 0 && a.min > a.max)
    problems.push({ field: 'min', message: `min ${a.min} is more than max ${a.max}` });
  // below the target, instances would queue before autoscale ever adds one
  if (problems.length === 0 && a.hardLimit != null && a.hardLimit < a.concurrency)
    problems.push({
      field: 'hardLimit',
      message: `hardLimit ${a.hardLimit} is less than concurrency ${a.concurrency}`,
    });
  return problems;
}

/** `autoscale 0..5, 20 per instance, idle 15m` (`, hard limit 40` with one) */
export function describeAutoscale(a: Autoscale): string {
  const hard = a.hardLimit == null ? '' : `, hard limit ${a.hardLimit}`;
  return `autoscale ${a.min}..${a.max}, ${a.concurrency} per instance${hard}, idle ${formatDuration(a.idleMs)}`;
}

/**
 * formationState with autoscale, as `paas ps` and the dashboard show it: `2 up; autoscale 0..5,
 * 20 per instance, idle 15m`, or `sleeping; autoscale …` when scaled to zero and nothing runs.
 */
export function formationSummary(
  f: FormationCounts & { readonly autoscale: Autoscale | null; readonly sleeping: boolean },
): string {
  if (!f.autoscale) return formationState(f);
  return `${f.sleeping && f.up === 0 ? 'sleeping' : formationState(f)}; ${describeAutoscale(f.autoscale)}`;
}

/** Sleeping: scaled to zero by its autoscale, woken by the next request. */
export function isSleeping(f: { readonly quantity: number; readonly autoscale: Autoscale | null }): boolean {
  return f.autoscale !== null && f.autoscale.min === 0 && f.quantity === 0;
}

/** What the routers saw of an app last: when its last request came (ms since the epoch; 0: none seen) and how many are in flight. */
export interface AppActivity {
  readonly lastRequestAt: number;
  readonly inflight: number;
}

/**
 * The idle decision of the scheduler's pass: the count a process type with autoscale should
 * have now. It goes to zero (with `min` 0) once nothing is in flight and neither a request
 * nor a change of its formation (`since`: a wake, a scale, enabling autoscale) came for
 * `idleMs`; otherwise it keeps its count. A type without activity known is idle since `since`.
 */
export function idleQuantity(input: {
  readonly quantity: number;
  readonly autoscale: Autoscale;
  readonly activity: AppActivity | null;
  /** When its formation last changed, in ms since the epoch. */
  readonly since: number;
  readonly now: number;
}): number {
  const { quantity, autoscale, activity, since, now } = input;
  if (quantity === 0 || autoscale.min > 0) return quantity;
  if ((activity?.inflight ?? 0) > 0) return quantity;
  const last = Math.max(activity?.lastRequestAt ?? 0, since);
  return now - last >= autoscale.idleMs ? 0 : quantity;
}

/**
 * The load decision of the scheduler's pass (Fly's soft limit): enough instances for the
 * requests in flight at `concurrency` each, between min (at least 1: going to zero is
 * idleQuantity's) and max. Up at once; down only once the load has asked for fewer for the
 * whole quiet period (`idleMs`), counted from `lowSince` (when it first asked for fewer; null:
 * it does not). Returns the count and the new `lowSince`.
 */
export function loadQuantity(input: {
  readonly quantity: number;
  readonly autoscale: Autoscale;
  readonly inflight: number;
  readonly lowSince: number | null;
  readonly now: number;
}): { quantity: number; lowSince: number | null } {
  const { quantity, autoscale, inflight, lowSince, now } = input;
  const wanted = Math.min(
    autoscale.max,
    Math.max(autoscale.min, 1, Math.ceil(Math.max(inflight, 0) / autoscale.concurrency)),
  );
  if (wanted > quantity) return { quantity: wanted, lowSince: null };
  if (wanted === quantity) return { quantity, lowSince: null };
  const since = lowSince ?? now;
  return now - since >= autoscale.idleMs ? { quantity: wanted, lowSince: null } : { quantity, lowSince: since };
}
