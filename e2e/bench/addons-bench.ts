/**
 * How long an add-on takes to be usable, on a real `paas up` (redis, registry, api, one agent,
 * the router) in temporary roots with a bridge of its own: `paas addons:create postgres` (and
 * redis) from the command's start until the database accepts a connection at its URL from the
 * host (`pg_isready`, `redis-cli PING` with its password). The service images are made before
 * (`paas image bootstrap postgres redis`), as an operator does once per node. Target for
 * PostgreSQL: under 5 s.
 *
 * Prints a markdown table with the median of RUNS add-ons of each type (default 5). Only
 * loopback and the bench's own bridge are used; everything is stopped and removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { PAAS, median, until, withPaasUp } from './paas-up';

const RUNS = Number(process.env['RUNS'] ?? 5);

async function main(): Promise<void> {
  await withPaasUp(
    {
      name: 'paas-bench-addons-',
      bridge: `pba${process.pid % 10000}`,
      subnet: `10.233.${process.pid % 250}.0/24`,
      images: ['busybox', 'postgres', 'redis'],
    },
    async ({ run }) => {
      run(PAAS, ['apps:create', 'bench']);
      const times: Record<'postgres' | 'redis', number[]> = { postgres: [], redis: [] };
      for (let i = 1; i <= RUNS; i++) {
        for (const type of ['postgres', 'redis'] as const) {
          const as = `${type.toUpperCase()}${i}`;
          const t0 = performance.now();
          run(PAAS, ['addons:create', type, '-a', 'bench', '--as', as]);
          const url = new URL(run(PAAS, ['config:get', `${as}_URL`, '-a', 'bench']).trim());
          const ready =
            type === 'postgres'
              ? (): boolean =>
                  spawnSync('pg_isready', ['-q', '-h', url.hostname, '-p', url.port, '-t', '1']).status === 0
              : (): boolean => {
                  const r = spawnSync(
                    'redis-cli',
                    [
                      '-h',
                      url.hostname,
                      '-p',
                      url.port,
                      '--no-auth-warning',
                      '-a',
                      decodeURIComponent(url.password),
                      'PING',
                    ],
                    { encoding: 'utf8' },
                  );
                  return r.status === 0 && r.stdout.trim() === 'PONG';
                };
          await until(`${as} accepts connections`, async () => ready(), 60_000, 20);
          times[type].push(performance.now() - t0);
        }
      }
      const ms = (xs: number[]): string => `${Math.round(median(xs))} ms`;
      console.log(`\nadd-on create to accepting connections, median of ${RUNS}:\n`);
      console.log('| add-on | median | runs |');
      console.log('| --- | --- | --- |');
      for (const type of ['postgres', 'redis'] as const) {
        console.log(`| ${type} | ${ms(times[type])} | ${times[type].map((t) => Math.round(t)).join(', ')} |`);
      }
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
