/**
 * Where the time of "scale a Node app 1 -> 10" goes (the capacity bench's first row), stage by
 * stage, on a real `paas up` (e2e/bench/paas-up.ts): for each of RUNS scale-ups, the ms after
 * the PATCH at which the rows were placed, each instance was first seen `up` by the API, the
 * route table held k backends, and all ten answered directly. One JSON line per run.
 *
 *   node --import tsx e2e/bench/node10-stages.ts [RUNS]      (RUNS default 5)
 *
 * Only loopback and the bench's own bridge are used; everything is removed at the end.
 */
import { get, pushApp, scaleWeb, until, webBackends, withPaasUp } from './paas-up';

const RUNS = Number(process.argv[2] ?? 5);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`RUNS must be a whole number of at least 1, not ${process.argv[2]}`);
async function main(): Promise<void> {
  await withPaasUp(
    {
      name: 'paas-bench-n10-',
      bridge: `pbn${process.pid % 10000}`,
      subnet: `10.234.${process.pid % 250}.0/24`,
      images: ['node'],
      env: { PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
    },
    async (up) => {
      const { api, router, token } = up;
      const auth = { authorization: `Bearer ${token}` };
      const scale = (quantity: number): Promise<void> => scaleWeb(up, 'nodeapp', quantity);
      const backends = (): Promise<string[]> => webBackends(up, 'nodeapp');
      pushApp(up, 'nodeapp', {
        'package.json': JSON.stringify({ name: 'nodeapp', version: '1.0.0', scripts: { start: 'node server.js' } }),
        'server.js': "require('http').createServer((q, s) => s.end('node ok\\n')).listen(process.env.PORT || 5000);\n",
      });
      await until('nodeapp serves', async () => (await get(router, 'nodeapp.localhost')).body === 'node ok\n', 120_000);
      for (let run = 0; run < RUNS; run++) {
        const t0 = performance.now();
        const ev: Record<string, number> = {};
        const seen = new Map<string, string>();
        const mark = (k: string): void => void (ev[k] ??= Math.round(performance.now() - t0));
        await scale(10);
        mark('patched');
        let done = false;
        const poller = (async () => {
          while (!done) {
            const res = await fetch(`${api}/api/apps/nodeapp/instances`, { headers: auth });
            const list = (await res.json()) as { name: string; state: string }[];
            if (list.length >= 10) mark('rows10');
            for (const i of list) {
              if (seen.get(i.name) !== i.state) {
                seen.set(i.name, i.state);
                mark(`${i.state}#${[...seen.values()].filter((s) => s === i.state).length}`);
              }
            }
            const b = await backends();
            mark(`routes${b.length}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        await until(
          'ten serve',
          async () => {
            const all = await backends();
            if (all.length !== 10) return false;
            const answers = await Promise.all(all.map((a) => get(`http://${a}/`, 'nodeapp.localhost')));
            return answers.every((a) => a.status === 200);
          },
          120_000,
          20,
        );
        mark('ALL');
        done = true;
        await poller;
        console.log(
          `run ${run}: ${JSON.stringify(Object.fromEntries(Object.entries(ev).sort((a, b) => a[1] - b[1])))}`,
        );
        await scale(1);
        await until('back to 1', async () => (await backends()).length === 1, 60_000);
        await new Promise((r) => setTimeout(r, 3000));
      }
    },
  );
}
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
