/**
 * The platform's two speed targets, measured on a real `paas up` (redis, registry, api, one
 * agent, the router) in temporary roots with a bridge of its own:
 *
 *   push-to-live: `git push` of a one-line change to a static site (a cached rebuild) until the
 *                 router answers with the new page (target: under 5 s)
 *   scale 1 -> 10: the formation PATCH until ten instances of the app are up and in the
 *                 router's table, each answering (target: under 3 s)
 *   zero downtime: wrk through the router (Host: bench.localhost) during a deploy, during
 *                 scale 1 -> 5 -> 1 and during a rollback: non-2xx answers and socket errors
 *                 (target: 0 and 0)
 *
 * Prints a markdown table with the median of RUNS runs (default 5). Only loopback and the
 * bench's own bridge are used; everything is stopped and removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAppRoute } from '@paas/platform/routes';
import { PAAS, get as getWith, median, socketErrors, until as untilNamed, withPaasUp, wrk } from './paas-up';

const RUNS = Number(process.env['RUNS'] ?? 5);
const paas = PAAS;
const get = (url: string, host: string): Promise<{ status: number; body: string }> => getWith(url, host, 2000);
const until = (check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> =>
  untilNamed('a step of the bench', check, timeoutMs, 20);

async function main(): Promise<void> {
  await withPaasUp(
    {
      name: 'paas-bench-deploy-',
      bridge: `pbd${process.pid % 10000}`,
      subnet: `10.234.${process.pid % 250}.0/24`,
      images: ['busybox'],
      env: { PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
    },
    async (up) => {
      const { work, env, api, router, token, redis: table, run } = up;
      const site = join(work, 'site');
      mkdirSync(site);
      run('git', ['init', '-q', '-b', 'main'], site);
      run(paas, ['apps:create', 'bench'], site);
      const host = 'bench.localhost';
      const pushed = (n: number): void => {
        writeFileSync(join(site, 'index.html'), `bench ${n}\n`);
        run('git', ['commit', '-qam', `v${n}`], site);
      };
      writeFileSync(join(site, 'index.html'), 'bench 0\n');
      run('git', ['add', '-A'], site);
      run('git', ['commit', '-qm', 'v0'], site);
      run('git', ['push', '-q', 'paas', 'main'], site); // the first build fills the cache
      await until(async () => (await get(router, host)).body === 'bench 0\n');

      const pushes: number[] = [];
      for (let i = 1; i <= RUNS; i++) {
        pushed(i);
        const t0 = performance.now();
        const child = spawn('git', ['push', '-q', 'paas', 'main'], { cwd: site, env, stdio: 'ignore' });
        await until(async () => (await get(router, host)).body === `bench ${i}\n`);
        pushes.push(performance.now() - t0);
        await new Promise((r) => child.once('close', r));
      }

      const redis = table();
      const scales: number[] = [];
      const scale = async (quantity: number): Promise<void> => {
        const res = await fetch(`${api}/api/apps/bench/formation/web`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ quantity, size: '32M' }),
        });
        if (!res.ok) throw new Error(`scale: ${res.status} ${await res.text()}`);
      };
      for (let i = 0; i < RUNS; i++) {
        await scale(1);
        await until(async () => (await readAppRoute(redis, 'bench')).route?.backends.length === 1);
        const t0 = performance.now();
        await scale(10);
        await until(async () => {
          const { route } = await readAppRoute(redis, 'bench');
          if (route?.backends.length !== 10) return false;
          const answers = await Promise.all(route.backends.map((b) => get(`http://${b.address}/`, host)));
          return answers.every((a) => a.status === 200);
        });
        scales.push(performance.now() - t0);
      }
      await scale(1);
      await until(async () => (await readAppRoute(redis, 'bench')).route?.backends.length === 1);

      // wrk during each operation: started first, the operation a second later, wrk ends after
      const underWrk = async (what: string, operation: () => Promise<void>): Promise<string> => {
        const load = wrk(up, host, { connections: 8, seconds: 8 });
        // a missing wrk fails the bench (and its clean-up runs) before the operation
        await Promise.race([new Promise((r) => setTimeout(r, 1000)), load]);
        await operation();
        const result = await load;
        return `| ${what} | ${result.requests} | ${result.non2xx} | ${socketErrors(result)} |`;
      };
      const zero: string[] = [];
      zero.push(
        await underWrk('deploy (git push of a change)', async () => {
          pushed(RUNS + 1);
          run('git', ['push', '-q', 'paas', 'main'], site);
          await until(async () => (await get(router, host)).body === `bench ${RUNS + 1}\n`);
        }),
      );
      zero.push(
        await underWrk('scale 1 -> 5 -> 1', async () => {
          await scale(5);
          await until(async () => (await readAppRoute(redis, 'bench')).route?.backends.length === 5);
          await new Promise((r) => setTimeout(r, 1500));
          await scale(1);
          await until(async () => (await readAppRoute(redis, 'bench')).route?.backends.length === 1);
        }),
      );
      zero.push(
        await underWrk('rollback to the previous release', async () => {
          const res = await fetch(`${api}/api/apps/bench/releases`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ release: RUNS + 1 }),
          });
          if (!res.ok) throw new Error(`rollback: ${res.status} ${await res.text()}`);
          await until(async () => (await get(router, host)).body === `bench ${RUNS}\n`);
        }),
      );
      const ms = (x: number): string => `${Math.round(x)} ms`;
      console.log(`\n| what (${RUNS} runs, median) | paas | target |`);
      console.log('| --- | ---: | ---: |');
      console.log(`| git push to live, cached rebuild of a static site | ${ms(median(pushes))} | 5000 ms |`);
      console.log(`| scale web 1 -> 10, until all ten serve | ${ms(median(scales))} | 3000 ms |`);
      console.log(`\nall pushes: ${pushes.map(ms).join(', ')}\nall scales: ${scales.map(ms).join(', ')}`);
      console.log('\n| wrk -c8 through the router during | requests | non-2xx | socket errors |');
      console.log('| --- | ---: | ---: | --- |');
      for (const row of zero) console.log(row);
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
