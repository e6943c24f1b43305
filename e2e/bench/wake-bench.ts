/**
 * The wake targets of #24 (e2e/bench/wake.sh): a Node app and a busybox httpd site with
 * `ps:autoscale:enable web --min 0 --idle 1s` are put to sleep, then woken by one request
 * through the router, WAKES times each; the first request's total time (sent to answered) is
 * measured, and p50/p99 printed. Between wakes each app goes back to sleep (its route says
 * `sleeping` with no backend) before the next request is sent.
 */
import { readAppRoute } from '@paas/platform/routes';
import { PAAS, type PaasUp, get, pushApp, until, withPaasUp } from './paas-up';

const WAKES = Number(process.env['WAKES'] ?? 20);

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

async function asleep(up: PaasUp, app: string): Promise<void> {
  await until(
    `${app} asleep`,
    async () => {
      const route = (await readAppRoute(up.redis(), app)).route;
      return route?.sleeping === true && route.backends.length === 0;
    },
    60_000,
    20,
  );
}

/** WAKES wakes of `app`, each the time of its first request, in ms. */
async function wakes(up: PaasUp, app: string, body: string): Promise<number[]> {
  const host = `${app}.localhost`;
  await until(`${app} serves`, async () => (await get(up.router, host)).body === body, 180_000);
  up.run(PAAS, ['ps:autoscale:enable', 'web', '--min', '0', '--max', '1', '--idle', '1s', '-a', app]);
  const times: number[] = [];
  for (let i = 0; i < WAKES; i++) {
    await asleep(up, app);
    // the instance's stop has gone through (its node no longer runs it) before the next wake
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    const res = await get(up.router, host, 30_000);
    const ms = performance.now() - t0;
    if (res.status !== 200 || res.body !== body) throw new Error(`wake ${i + 1} of ${app}: ${res.status} ${res.body}`);
    times.push(ms);
  }
  return times;
}

async function main(): Promise<void> {
  await withPaasUp(
    {
      name: 'paas-bench-wake-',
      bridge: `pbw${process.pid % 10000}`,
      subnet: `10.237.${process.pid % 250}.0/24`,
      images: ['busybox', 'node'],
      env: { PAAS_ROUTER_WORKERS: '2', PAAS_DRAIN_MS: '0', PAAS_STOP_TIMEOUT: '2' },
    },
    async (up) => {
      pushApp(up, 'nodewake', {
        'package.json': JSON.stringify({ name: 'nodewake', version: '1.0.0', scripts: { start: 'node server.js' } }),
        'server.js': "require('http').createServer((q, s) => s.end('node ok\\n')).listen(process.env.PORT || 5000);\n",
      });
      pushApp(up, 'sitewake', { 'index.html': 'site ok\n' });
      const rows: string[] = [];
      const row = (what: string, times: number[], target: string): void => {
        rows.push(
          `| ${what} | ${Math.round(percentile(times, 50))} ms | ${Math.round(percentile(times, 99))} ms | ${target} |`,
        );
      };
      row(
        `wake a sleeping Node app, first request (${WAKES} wakes)`,
        await wakes(up, 'nodewake', 'node ok\n'),
        'p50 < 500 ms, p99 < 1 s',
      );
      row(
        `wake a sleeping busybox httpd, first request (${WAKES} wakes)`,
        await wakes(up, 'sitewake', 'site ok\n'),
        'p50 < 150 ms',
      );
      console.log(['| what | p50 | p99 | target |', '| --- | --- | --- | --- |', ...rows].join('\n'));
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
