/**
 * The router at rest with many backends (issue 18: "Router and agent CPU at rest with 1,000
 * instances"). Starts its own redis-server, BACKENDS tiny HTTP backends on 127.0.0.1 (node:http
 * servers in this process, so their cost is this process's, not the router's) and the real
 * router bundle, then writes one app route with those backends through the control plane's own
 * writer (`setAppRoutes`) and measures, from /proc:
 *
 *   - the router's CPU (primary + workers, utime+stime) over SECONDS at rest, as a percentage
 *     of one core, with the empty table first and then with the app's backends;
 *   - each process's RSS, and each worker's RSS with the table minus without it;
 *   - how long one backend added to the route takes to reach every worker (the workers' table
 *     versions as the admin address reports them), ROUNDS times.
 *
 *   node --import tsx e2e/bench/router-rest.ts
 *   BACKENDS=1000 SECONDS=20 WARMUP_S=15 ROUNDS=5 WORKERS=2 CHECK=http|tcp node --import tsx e2e/bench/router-rest.ts
 *
 * PAAS_ROUTER_HEALTH_* in the environment go on to the router. Everything started here (the
 * router and its workers, Redis, the backends, temp dirs) is stopped on the way out, on failure
 * too, and the run gives up after DEADLINE_S (300) seconds.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Backend as RouteBackend, type HealthCheck, connectRedis, setAppRoutes } from '@paas/platform/routes';
import { type Backend, RouterProcess, backend, cleanup, ensureBuilt, redisServer, routerEnv } from '../proxy/support';

const APP = 'rest';

function setting(name: string, fallback: number, min: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}=${value}: expected a whole number >= ${min}`);
  return n;
}

const BACKENDS = setting('BACKENDS', 1000, 2);
const SECONDS = setting('SECONDS', 20, 1);
const ROUNDS = setting('ROUNDS', 5, 1);
const WARMUP_S = setting('WARMUP_S', 15, 0);
const WORKERS = setting('WORKERS', 2, 1);
const DEADLINE_S = setting('DEADLINE_S', 300, 10);
const CHECK: HealthCheck = (() => {
  const value = process.env['CHECK'] ?? 'http';
  if (value === 'http') return { type: 'http', path: '/health' };
  if (value === 'tcp') return { type: 'tcp' };
  throw new Error(`CHECK=${value}: expected http or tcp`);
})();
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of one process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function rssMiB(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib ?? 0) / 1024;
}

interface Sample {
  /** % of one core, each process and all together. */
  readonly cpu: Record<string, number>;
  readonly total: number;
  readonly selfCpu: number;
}

/** CPU of `pids` (named) over `seconds`, and of this process (the backends) alongside. */
async function sampleCpu(pids: Record<string, number>, seconds: number): Promise<Sample> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const self = process.cpuUsage();
  const start = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const used = process.cpuUsage(self);
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) cpu[name] = ((cpuSeconds(pid) - (before[name] ?? 0)) / elapsed) * 100;
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  return { cpu, total, selfCpu: ((used.user + used.system) / 1e6 / elapsed) * 100 };
}

/** Resolves once every worker routes by `version` or later (polled every millisecond or so). */
async function everyWorkerAt(router: RouterProcess, version: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const h = await router.health();
    if (!h.workerVersions) throw new Error('this router does not report workerVersions on /_paas/health');
    if (h.workerVersions.length === WORKERS && h.workerVersions.every((v) => v >= version)) return;
    if (performance.now() > deadline) {
      throw new Error(
        `table version ${version} did not reach every worker within ${timeoutMs} ms: ${JSON.stringify(h)}`,
      );
    }
    await sleep(1);
  }
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function processes(router: RouterProcess): Record<string, number> {
  const workers = router.workerPids();
  if (workers.length !== WORKERS) throw new Error(`expected ${WORKERS} workers, found ${workers.length}`);
  return { primary: router.pid, ...Object.fromEntries(workers.map((pid, i) => [`worker${i + 1}`, pid])) };
}

function printCpu(label: string, sample: Sample): void {
  const each = Object.entries(sample.cpu)
    .map(([name, pct]) => `${name} ${fmt(pct)}%`)
    .join(', ');
  console.log(
    `${label}: router ${fmt(sample.total)}% of one core (${each}); backends (this process) ${fmt(sample.selfCpu)}%`,
  );
}

async function main(): Promise<void> {
  ensureBuilt();
  const redis = await redisServer();
  const writer = connectRedis(redis.url);
  try {
    const backends: Backend[] = [];
    for (let i = 0; i < BACKENDS; i++) backends.push(await backend(`b${i + 1}`));
    const routeOf = (n: number): RouteBackend[] =>
      backends.slice(0, n).map((b, i) => ({ id: `web.${i + 1}`, address: b.address }));
    const passthrough = Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[0].startsWith('PAAS_ROUTER_HEALTH_') && !!e[1],
      ),
    );
    const router = await new RouterProcess(
      routerEnv(redis.url, { PAAS_ROUTER_WORKERS: String(WORKERS), PAAS_ROUTER_ACCESS_LOG: 'off', ...passthrough }),
    ).ready();
    const pids = processes(router);
    console.log(
      `router-rest: ${BACKENDS} backends, ${CHECK.type} check, ${WORKERS} workers, ${SECONDS} s samples, ` +
        `node ${process.version}, ${
          Object.entries(passthrough)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ') || 'default health settings'
        }`,
    );

    // ---- the empty table ----
    await everyWorkerAt(router, 0);
    await sleep(2000);
    const emptyRss = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, rssMiB(pid)]));
    printCpu('at rest, empty table', await sampleCpu(pids, Math.min(SECONDS, 10)));

    // ---- one app with BACKENDS - 1 backends, then at rest ----
    const first = routeOf(BACKENDS - 1);
    let version = await setAppRoutes(writer, APP, [], first, CHECK);
    await everyWorkerAt(router, version);
    // At rest means after the first checks: long enough for backends that keep passing to be
    // on the router's idle schedule, if it has one.
    await sleep(WARMUP_S * 1000);
    const seenBefore = backends.reduce((n, b) => n + b.seen.length, 0);
    const sample = await sampleCpu(pids, SECONDS);
    const probes = backends.reduce((n, b) => n + b.seen.length, 0) - seenBefore;
    printCpu(`at rest, ${first.length} backends`, sample);
    if (CHECK.type === 'http') console.log(`HTTP checks seen by the backends: ${fmt(probes / SECONDS)} per second`);
    const fullRss = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, rssMiB(pid)]));
    console.log(
      `RSS MiB: ${Object.entries(fullRss)
        .map(
          ([name, mib]) =>
            `${name} ${fmt(mib)} (empty table ${fmt(emptyRss[name] ?? 0)}, +${fmt(mib - (emptyRss[name] ?? 0))})`,
        )
        .join(', ')}; router total ${fmt(Object.values(fullRss).reduce((a, b) => a + b, 0))}`,
    );
    console.log(
      `the route as stored: ${JSON.stringify({ app: APP, hosts: [], backends: first, check: CHECK }).length} bytes of JSON`,
    );

    // ---- propagation: one backend added (then taken away again), ROUNDS times ----
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      version = await setAppRoutes(writer, APP, [], routeOf(BACKENDS), CHECK);
      await everyWorkerAt(router, version);
      times.push(performance.now() - start);
      version = await setAppRoutes(writer, APP, [], first, CHECK);
      await everyWorkerAt(router, version);
    }
    console.log(
      `one backend added -> every worker: median ${fmt(median(times))} ms, max ${fmt(Math.max(...times))} ms ` +
        `(${times.map((t) => fmt(t)).join(', ')})`,
    );
    const down = (await router.metrics()).backends.filter((b) => !b.healthy);
    if (down.length > 0)
      console.log(`warning: ${down.length} backends were marked down, e.g. ${down[0]?.address}: ${down[0]?.lastError}`);
  } finally {
    writer.disconnect();
  }
}

const deadline = setTimeout(() => {
  console.error(`router-rest: still running after ${DEADLINE_S} s; giving up`);
  void cleanup().finally(() => process.exit(1));
}, DEADLINE_S * 1000);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

main()
  .then(
    () => 0,
    (err: unknown) => {
      console.error(`router-rest: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanup();
    clearTimeout(deadline);
    process.exit(code);
  });
