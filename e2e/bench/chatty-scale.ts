/**
 * A scale-up whose instances talk: on a real `paas up` (e2e/bench/paas-up.ts), busybox httpd
 * instances (nano) that each print LINES lines at their start, scaled 0 -> N. For each of
 * RUNS runs, the ms after the PATCH at which the route table held N backends, and at which
 * the app's log held every instance's last line (the agent's output path: through the api
 * since nodes have no Redis). One JSON line per run. Checks that the agents' log traffic
 * does not slow a scale-up.
 *
 *   node --import tsx e2e/bench/chatty-scale.ts [N] [RUNS]      (N default 200, RUNS 2)
 *
 * Only loopback and the bench's own bridge are used; everything is removed at the end.
 */
import { APP_LOG_MAX, appLogKey, tailLog } from '@paas/platform';
import { get, pushApp, scaleWeb, until, webBackends, withPaasUp } from './paas-up';

const N = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 2);
const LINES = 30;
// the app's log keeps about APP_LOG_MAX entries: the scheduler's lines must fit beside these
const MAX_N = Math.floor((APP_LOG_MAX * 0.6) / (LINES + 1));
if (!Number.isInteger(N) || N < 2 || N > MAX_N)
  throw new Error(`N must be a whole number from 2 to ${MAX_N}, not ${process.argv[2]}`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`RUNS must be a whole number of at least 1`);

async function main(): Promise<void> {
  await withPaasUp(
    {
      name: 'paas-bench-chatty-',
      bridge: `pbc${process.pid % 10000}`,
      subnet: `10.238.${process.pid % 250}.0/24`,
      images: ['busybox'],
      env: { PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
    },
    async (up) => {
      const dockerfile = [
        'FROM busybox',
        'ENV PORT=5000',
        'COPY . /www',
        `CMD i=1; while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); done; ` +
          'echo "ready"; exec httpd -f -p "$PORT" -h /www',
        '',
      ].join('\n');
      pushApp(up, 'chatty', { 'index.html': 'chatty\n', Dockerfile: dockerfile });
      await until('chatty serves', async () => (await get(up.router, 'chatty.localhost')).body === 'chatty\n', 120_000);
      await scaleWeb(up, 'chatty', 0);
      await until('no instance', async () => (await webBackends(up, 'chatty')).length === 0, 300_000, 100);
      const appId = (
        (await (
          await fetch(`${up.api}/api/apps/chatty`, { headers: { authorization: `Bearer ${up.token}` } })
        ).json()) as { id: string }
      ).id;
      for (let run = 0; run < RUNS; run++) {
        await up.redis().del(appLogKey(appId)); // each run counts its own lines
        await up.redis().xadd(appLogKey(appId), '*', 't', new Date().toISOString(), 's', 'bench', 'l', `run ${run}`);
        const t0 = performance.now();
        const at: Record<string, number> = {};
        await scaleWeb(up, 'chatty', N, 'nano');
        await until(`${N} backends`, async () => (await webBackends(up, 'chatty')).length >= N, 300_000, 50);
        at['routes'] = Math.round(performance.now() - t0);
        let ready = 0;
        await until(
          `every instance's last line`,
          async () => {
            const entries = await tailLog(up.redis(), appLogKey(appId), 10_000);
            ready = entries.filter((e) => e.line === 'ready').length;
            return ready >= N;
          },
          120_000,
          100,
        ).catch((err: unknown) => {
          throw new Error(`${(err as Error).message} (${ready} of ${N} instances said ready)`);
        });
        at['logs'] = Math.round(performance.now() - t0);
        const entries = await tailLog(up.redis(), appLogKey(appId), 10_000);
        at['lines'] = entries.filter((e) => /^web\.\d+$/.test(e.source)).length;
        at['entries'] = entries.length;
        console.log(`run ${run}: ${JSON.stringify(at)}`);
        // to none, so that every instance of the next run is a new one
        await scaleWeb(up, 'chatty', 0);
        await until('down to none', async () => (await webBackends(up, 'chatty')).length === 0, 300_000, 100);
        await new Promise((r) => setTimeout(r, 3000)); // the stopped ones leave their nodes
      }
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
