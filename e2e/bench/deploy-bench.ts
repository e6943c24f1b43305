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
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { connectRedis, readAppRoute } from '@paas/platform/routes';

const REPO = join(__dirname, '..', '..');
const RUNS = Number(process.env['RUNS'] ?? 5);
const work = mkdtempSync('/var/tmp/paas-bench-deploy-');
const env: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  HOME: join(work, 'home'),
  PAAS_ROOT: join(work, 'root'),
  PAAS_RUN: join(work, 'run'),
  PAAS_API_ADDR: '127.0.0.1:0',
  PAAS_REGISTRY_ADDR: '127.0.0.1:0',
  PAAS_ROUTER_ADDR: '127.0.0.1:0',
  PAAS_ROUTER_ADMIN_ADDR: 'off',
  PAAS_ROUTER_ACCESS_LOG: 'off',
  PAAS_BRIDGE: `pbd${process.pid % 10000}`,
  PAAS_SUBNET: `10.234.${process.pid % 250}.0/24`,
  PAAS_IP_FORWARD: '0',
  PAAS_DRAIN_MS: '200',
  PAAS_STOP_TIMEOUT: '2',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};
const paas = join(REPO, 'bin', 'paas');

function run(cmd: string, args: string[], cwd = work): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function get(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { host }, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

async function until(check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main(): Promise<void> {
  mkdirSync(join(work, 'home'), { recursive: true });
  run(paas, ['image', 'bootstrap', 'busybox']);
  const up: ChildProcess = spawn(paas, ['up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  up.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  up.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  try {
    await until(async () => /Press Ctrl-C/.test(out), 60_000);
    const api = /\n\s+api\s+(http:\/\/\S+)/.exec(out)?.[1] ?? '';
    const router = /\n\s+router\s+(http:\/\/\S+)/.exec(out)?.[1] ?? '';
    const redisUrl = /\n\s+redis\s+(\S+)/.exec(out)?.[1] ?? '';
    const token = readFileSync(join(env['PAAS_ROOT'] as string, 'platform', 'admin.token'), 'utf8').trim();
    env['PAAS_API_URL'] = api;
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

    const redis = connectRedis(redisUrl);
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
      const wrk = spawn('wrk', ['-t1', '-c8', '-d8s', '-H', `Host: ${host}`, `${router}/`], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      wrk.stdout?.on('data', (c: Buffer) => (text += c.toString()));
      await new Promise((r) => setTimeout(r, 1000));
      await operation();
      await new Promise((r) => wrk.once('close', r));
      const requests = /(\d+) requests in/.exec(text)?.[1] ?? '?';
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? '0';
      const socket = /Socket errors: (.*)/.exec(text)?.[1] ?? 'none';
      return `| ${what} | ${requests} | ${non2xx} | ${socket} |`;
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
    redis.disconnect();
    const ms = (x: number): string => `${Math.round(x)} ms`;
    console.log(`\n| what (${RUNS} runs, median) | paas | target |`);
    console.log('| --- | ---: | ---: |');
    console.log(`| git push to live, cached rebuild of a static site | ${ms(median(pushes))} | 5000 ms |`);
    console.log(`| scale web 1 -> 10, until all ten serve | ${ms(median(scales))} | 3000 ms |`);
    console.log(`\nall pushes: ${pushes.map(ms).join(', ')}\nall scales: ${scales.map(ms).join(', ')}`);
    console.log('\n| wrk -c8 through the router during | requests | non-2xx | socket errors |');
    console.log('| --- | ---: | ---: | --- |');
    for (const row of zero) console.log(row);
  } finally {
    up.kill('SIGINT');
    await new Promise((r) => up.once('close', r));
    spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'apps', 'agent', 'src', 'main.ts'), 'cleanup'], {
      cwd: REPO,
      env,
      stdio: 'ignore',
    });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
