/**
 * Autoscale under a step load, and no request lost while it scales (#24; e2e/bench/autoscale.sh),
 * on a real `paas up` (redis, registry, api, one agent, a router with two workers).
 *
 * The app is a Node server whose every answer takes 80 ms (a timer, not CPU), so the requests
 * in flight follow the connections whatever the instances, and the 2 cores stay free for the
 * platform and the load. Its web has `--min 1 --max 8 --concurrency 5 --idle 30s`: 1
 * connection asks for min (1), 50 ask for ceil(50 / 5) = 10, capped at max 8, so the step
 * should take it 1 -> 8 -> 1; 8 Node instances start within seconds on 2 cores, and 30 s is
 * long enough to see the quiet period on the plot and short enough for one run.
 *
 *   step load:  wrk -c1 for 20 s, -c50 for 60 s, -c1 for the quiet period + 25 s (one wrk per
 *               step, one after the other); every 500 ms a sample of the connections, the
 *               requests in flight the leader reads (what the routers reported), web's
 *               quantity, its instances running (starting, up or stopping) and up, and the
 *               route's backends. Reaction times: from the step to web's quantity 8 and to 8
 *               instances up; from the drop to quantity 1 and to 1 instance left.
 *   0 lost:     each step's wrk summary (non-2xx answers, socket errors) is the scale-up and the
 *               scale-down; then web goes to `--min 0 --idle 1s`, sleeps, and wrk -c10 starts
 *               on the sleeping app: its first requests are held by the router while it wakes.
 *
 * Writes the series to $CSV (default /var/tmp/paas-bench-autoscale.csv) and prints an ASCII plot
 * and markdown tables, with the machine's load average before and after (a shared machine).
 * Only loopback and the bench's own bridge are used; everything is stopped and removed at the
 * end, also after a failure.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readActivity } from '@paas/platform';
import { readAppRoute } from '@paas/platform/routes';
import { PAAS, type PaasUp, type WrkResult, get, pushApp, socketErrors, until, withPaasUp, wrk } from './paas-up';

const APP = 'step';
const HOST = `${APP}.localhost`;
const MIN = 1;
const MAX = 8;
const CONCURRENCY = 5;
const IDLE_S = 30;
const LOW = 1;
const HIGH = 50;
/** The steps: connections for seconds. */
const STEPS = [
  { connections: LOW, seconds: 20 },
  { connections: HIGH, seconds: 60 },
  { connections: LOW, seconds: IDLE_S + 25 },
] as const;
const SAMPLE_MS = 500;
const WAKE_CONNECTIONS = 10;
const CSV = process.env['CSV'] || '/var/tmp/paas-bench-autoscale.csv';
/** ACCESS_LOG=1: the router's access log on, and its requests slower than SLOW_MS or not 2xx printed. */
const ACCESS_LOG = process.env['ACCESS_LOG'] === '1';
const SLOW_MS = 500;

interface Sample {
  /** Seconds since the first step started. */
  readonly t: number;
  readonly connections: number;
  readonly inflight: number;
  readonly quantity: number;
  readonly running: number;
  readonly up: number;
  readonly backends: number;
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function api<T>(up: PaasUp, path: string): Promise<T> {
  const res = await fetch(`${up.api}/api/apps/${APP}${path}`, { headers: { authorization: `Bearer ${up.token}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** One sample of what the leader, the api and the route table say of the app now. */
async function sample(up: PaasUp, t: number, connections: number): Promise<Sample> {
  const [activity, formation, instances, route] = await Promise.all([
    readActivity(up.redis(), [APP]),
    api<{ quantity: number }>(up, '/formation/web'),
    api<{ type: string; state: string }[]>(up, '/instances'),
    readAppRoute(up.redis(), APP),
  ]);
  const web = instances.filter((i) => i.type === 'web');
  return {
    t,
    connections,
    inflight: activity.get(APP)?.inflight ?? 0,
    quantity: formation.quantity,
    running: web.filter((i) => ['starting', 'up', 'stopping'].includes(i.state)).length,
    up: web.filter((i) => i.state === 'up').length,
    backends: route.route?.backends.length ?? 0,
  };
}

/** The step load, sampled; each step's wrk summary and when it started (s). */
async function stepLoad(up: PaasUp): Promise<{ samples: Sample[]; steps: { at: number; result: WrkResult }[] }> {
  const samples: Sample[] = [];
  const steps: { at: number; result: WrkResult }[] = [];
  const t0 = performance.now();
  const since = (): number => (performance.now() - t0) / 1000;
  let connections: number = STEPS[0].connections;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      samples.push(await sample(up, since(), connections));
      // the next tick of the 500 ms grid (a slow sample skips ticks rather than bunching up)
      const next = t0 + Math.ceil((performance.now() - t0 + 1) / SAMPLE_MS) * SAMPLE_MS;
      await new Promise((r) => setTimeout(r, next - performance.now()));
    }
  })();
  // a failed sample fails the bench once the steps are done (awaited below), not the process
  // in an unhandled rejection before the clean-up ran
  sampling.catch(() => undefined);
  try {
    for (const step of STEPS) {
      connections = step.connections;
      const at = since();
      steps.push({ at, result: await wrk(up, HOST, step) });
    }
  } finally {
    done = true;
    await sampling;
  }
  return { samples, steps };
}

/**
 * Time (x) against connections and instances up: `#` bars of the instances up (left axis), `o`
 * the connections (right axis, CONCURRENCY a row: the instances they ask for), `@` both.
 */
function plot(samples: readonly Sample[], seconds: number): string {
  const COLUMN_S = 2;
  const columns = Math.ceil(seconds / COLUMN_S);
  const rows = Math.ceil(HIGH / CONCURRENCY);
  const grid = Array.from({ length: rows }, () => Array.from({ length: columns }, () => ' '));
  for (let c = 0; c < columns; c++) {
    // the column's last sample
    const s = [...samples].reverse().find((x) => x.t < (c + 1) * COLUMN_S && x.t >= c * COLUMN_S);
    if (!s) continue;
    for (let r = 0; r < Math.min(rows, s.up); r++) (grid[r] as string[])[c] = '#';
    const o = Math.min(rows, Math.ceil(s.connections / CONCURRENCY));
    const row = grid[o - 1];
    if (row) row[c] = row[c] === '#' ? '@' : 'o';
  }
  const lines = grid
    .map((cells, r) => `${String(r + 1).padStart(3)} |${cells.join('')}| ${String((r + 1) * CONCURRENCY).padStart(3)}`)
    .reverse();
  const axis = Array.from({ length: columns + 1 }, (_, c) => (c % 10 === 0 ? '+' : '-')).join('');
  let labels = '';
  for (let c = 0; c <= columns; c += 10) labels = labels.padEnd(c) + String(c * COLUMN_S);
  return [
    `instances up (#)${' '.repeat(Math.max(1, columns - 25))}connections (o; @ both)`,
    ...lines,
    `    ${axis}`,
    `    ${labels} s`,
  ].join('\n');
}

/**
 * The access log's requests (in `paas up`'s output, prefixed) that were not 2xx or took SLOW_MS
 * or more, by phase (`phases`: each one's name and when it started, ms since the epoch): how many,
 * and the slowest few with their backend, attempts and error, at seconds into their phase.
 */
function unusual(output: string, phases: readonly { name: string; at: number }[]): string {
  const found = phases.map(() => [] as { at: number; text: string; ms: number }[]);
  for (const line of output.split('\n')) {
    const start = line.indexOf('{"time":');
    if (start < 0) continue;
    let entry: { time: string; app: string | null; status: number; backend: string | null; durationMs: number };
    try {
      entry = JSON.parse(line.slice(start)) as typeof entry;
    } catch {
      continue; // a line cut by the pipe
    }
    if (entry.app !== APP || (entry.durationMs < SLOW_MS && entry.status >= 200 && entry.status <= 299)) continue;
    const at = Date.parse(entry.time); // when it was answered
    const k = phases.findLastIndex((p) => p.at <= at);
    if (k >= 0)
      found[k]?.push({ at: (at - (phases[k]?.at ?? 0)) / 1000, text: line.slice(start), ms: entry.durationMs });
  }
  return phases
    .map((p, k) => {
      const list = found[k] ?? [];
      const slowest = [...list].sort((x, y) => y.ms - x.ms).slice(0, 5);
      return [
        `${p.name}: ${list.length} not 2xx or slower than ${SLOW_MS} ms`,
        ...slowest.map((x) => `  +${x.at.toFixed(1)} s ${x.text}`),
      ].join('\n');
    })
    .join('\n');
}

/** The first sample at or after `from` (s) where `holds`; its time after `from`, or null. */
function reaction(samples: readonly Sample[], from: number, holds: (s: Sample) => boolean): number | null {
  const s = samples.find((x) => x.t >= from && holds(x));
  return s ? s.t - from : null;
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  await withPaasUp(
    {
      name: 'paas-bench-autoscale-',
      bridge: `pba${process.pid % 10000}`,
      subnet: `10.238.${process.pid % 250}.0/24`,
      images: ['node'],
      // the platform's drain and stop settings as shipped: what "0 lost" is measured with
      env: { PAAS_ROUTER_WORKERS: '2', ...(ACCESS_LOG ? { PAAS_ROUTER_ACCESS_LOG: 'on' } : {}) },
    },
    async (up) => {
      pushApp(up, APP, {
        'package.json': JSON.stringify({ name: APP, version: '1.0.0', scripts: { start: 'node server.js' } }),
        'server.js':
          "require('http').createServer((q, s) => setTimeout(() => s.end('step ok\\n'), 80)).listen(process.env.PORT || 5000);\n",
      });
      await until(`${APP} serves`, async () => (await get(up.router, HOST)).body === 'step ok\n', 180_000);
      const autoscale = (min: number, idle: string): string =>
        up.run(PAAS, [
          'ps:autoscale:enable',
          'web',
          '--min',
          String(min),
          '--max',
          String(MAX),
          '--concurrency',
          String(CONCURRENCY),
          '--idle',
          idle,
          '-a',
          APP,
        ]);
      autoscale(MIN, `${IDLE_S}s`);
      await until(`${APP} at ${MIN} up`, async () => (await sample(up, 0, 0)).up === MIN, 60_000);

      // 1. the step load
      const from = new Date();
      const { samples, steps } = await stepLoad(up);
      const [, high, low] = steps;
      if (!high || !low) throw new Error('a step did not run');
      const csv = ['t_s,connections,inflight,quantity,running,up,backends'];
      for (const s of samples)
        csv.push([s.t.toFixed(2), s.connections, s.inflight, s.quantity, s.running, s.up, s.backends].join(','));
      writeFileSync(CSV, `${csv.join('\n')}\n`);
      const target = Math.min(MAX, Math.ceil(HIGH / CONCURRENCY));
      const decided = reaction(samples, high.at, (s) => s.quantity >= target);
      const allUp = reaction(samples, high.at, (s) => s.up >= target);
      const downDecided = reaction(samples, low.at, (s) => s.quantity <= MIN);
      const downGone = reaction(samples, low.at, (s) => s.quantity <= MIN && s.running <= MIN);
      const seconds = (x: number | null): string => (x === null ? 'never' : `${x.toFixed(1)} s`);
      const peakInflight = Math.max(...samples.filter((s) => s.connections === HIGH).map((s) => s.inflight));

      // 2. a wake from zero under load: asleep when wrk starts
      autoscale(0, '1s');
      await until(
        `${APP} asleep`,
        async () => {
          const route = (await readAppRoute(up.redis(), APP)).route;
          return route?.sleeping === true && route.backends.length === 0;
        },
        120_000,
        20,
      );
      // the instance's stop has gone through before the wake (as wake.sh waits)
      await new Promise((r) => setTimeout(r, 1000));
      const wakeAt = Date.now();
      const wake = await wrk(up, HOST, { connections: WAKE_CONNECTIONS, seconds: 10, timeoutSeconds: 10 });

      const total = STEPS.reduce((a, s) => a + s.seconds, 0);
      console.log(`\nload average before: ${loadBefore}; after: ${loadAverage()} (2 cores, shared)`);
      console.log(`series: ${CSV} (${samples.length} samples every ${SAMPLE_MS} ms from ${from.toISOString()})\n`);
      console.log(plot(samples, total));
      console.log(
        `\n| step load: web --min ${MIN} --max ${MAX} --concurrency ${CONCURRENCY} --idle ${IDLE_S}s, wrk -c${LOW} -> -c${HIGH} -> -c${LOW} | paas |`,
      );
      console.log('| --- | ---: |');
      console.log(
        `| step -> web's quantity ${target} (requests in flight read at the peak: ${peakInflight}) | ${seconds(decided)} |`,
      );
      console.log(`| step -> ${target} instances up | ${seconds(allUp)} |`);
      console.log(`| drop -> web's quantity ${MIN} (quiet period ${IDLE_S} s) | ${seconds(downDecided)} |`);
      console.log(`| drop -> ${MIN} instance left (drained and stopped) | ${seconds(downGone)} |`);
      console.log('\n| wrk through the router during | requests | non-2xx | socket errors | max latency |');
      console.log('| --- | ---: | ---: | --- | ---: |');
      const row = (what: string, r: WrkResult): void =>
        console.log(`| ${what} | ${r.requests} | ${r.non2xx} | ${socketErrors(r)} | ${r.maxLatency} |`);
      row(`-c${LOW}, ${MIN} instance`, (steps[0] as { result: WrkResult }).result);
      row(`-c${HIGH}: scale-up ${MIN} -> ${target}`, high.result);
      row(`-c${LOW}: scale-down ${target} -> ${MIN} after the quiet period`, low.result);
      // fewer than a worker holds for one app (PAAS_ROUTER_WAKE_QUEUE, 100): none may be refused
      row(`-c${WAKE_CONNECTIONS} on the app asleep: held while it wakes, then served`, wake);
      const lost = [...steps.map((step) => step.result), wake].filter(
        (r) => r.non2xx + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout > 0,
      );
      if (lost.length > 0) {
        console.error(`\nrequests lost in ${lost.length} phase(s) (target: 0); ACCESS_LOG=1 shows which`);
        process.exitCode = 1;
      }
      if (ACCESS_LOG) {
        const names = ['before the step', 'scale-up', 'scale-down'];
        const phases = steps.map((step, k) => ({ name: names[k] ?? '', at: from.getTime() + step.at * 1000 }));
        console.log(`\n${unusual(up.output(), [...phases, { name: 'wake from zero', at: wakeAt }])}`);
      }
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
