/**
 * Control-plane replicas: a real `paas up` (e2e/bench/paas-up.ts) whose api (A) runs on a
 * PostgreSQL this spec starts, and a second api process (B, the api bundle) on the same
 * database, Redis and root. Exactly one runs the scheduler:
 *
 *   A started first and leads; B serves the API (`paas nodes` through B names A)
 *   `git push` through B: B's receiver, A's build worker and scheduler; the pusher sees the
 *   deploy's lines, which B reads from the app's log
 *   `ps:scale web=2` through B is carried out by A's scheduler (B passes the kick on)
 *   kill -9 of A: B takes office (the time it took is printed); `paas up` restarts A, which
 *   follows; `ps:scale web=3` through B is carried out
 *
 * Everything is stopped and removed at the end, failed or not: B by its pid, `paas up` and
 * what it ran (withPaasUp), the database; no process of the platform is left.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Instance } from '@paas/api-types';
import { type TestDatabase, testDatabase } from '@paas/platform/testing';
import { isAlive, mountsUnder, paasAsync } from '../support/cli';
import { PAAS, type PaasUp, get, until, withPaasUp } from '../bench/paas-up';
import { type Daemon, startDaemon, stopDaemon } from './support/daemon';

const HOST = 'site.localhost';

/** What `paas up` listed for a component when it came up: its URL and pid. */
function component(up: PaasUp, name: string): { url: string; pid: number } {
  const m = new RegExp(`\\n\\s+${name}\\s+(\\S+)\\s+pid (\\d+)`).exec(up.output());
  assert.ok(m, `no ${name} in:\n${up.output()}`);
  return { url: m[1] as string, pid: Number(m[2]) };
}

async function health(api: string): Promise<{ leader?: boolean } | null> {
  const res = await fetch(`${api}/api/health`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.ok ? ((await res.json()) as { leader?: boolean }) : null;
}

describe('control-plane replicas: one leads, the other takes over', { timeout: 300_000 }, () => {
  it('scales through either api; kill -9 of the leader hands the scheduler to the other', async (t) => {
    let db: TestDatabase | undefined;
    let b: Daemon | undefined;
    let work = '';
    const pids = new Set<number>();
    try {
      // on the run's PostgreSQL (PAAS_TEST_POSTGRES_URL), else a private cluster for this file
      const database = await testDatabase('postgres');
      db = database;
      await withPaasUp(
        {
          name: 'paas-e2e-replicas-',
          bridge: `par${process.pid % 10000}`,
          subnet: `10.236.${process.pid % 250}.0/24`,
          images: ['busybox'],
          env: { DATABASE_URL: database.url, PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
        },
        async (up) => {
          work = up.work;
          const a = component(up, 'api');
          pids.add(a.pid);
          // recorded at once: whatever fails after, the finally stops it
          b = await startDaemon('api-b', 'dist/apps/api/main.js', {
            ...up.env,
            PAAS_API_ADDR: '127.0.0.1:0',
            DATABASE_URL: database.url,
            REDIS_URL: component(up, 'redis').url,
            PAAS_REGISTRY_ADDR: new URL(component(up, 'registry').url).host,
            PAAS_BUILD_WORKERS: '0',
          });
          const started = b;
          const bUrl = started.url;
          pids.add(started.child.pid as number);
          const viaB = { ...up.env, PAAS_API_URL: bUrl };
          const paas = async (...args: string[]): Promise<string> => {
            const r = await paasAsync(args, viaB);
            assert.equal(r.status, 0, `paas ${args.join(' ')}: ${r.stderr}${r.stdout}`);
            return r.stdout;
          };
          const webUp = async (): Promise<number> =>
            (JSON.parse(await paas('ps', '--json', '-a', 'site')) as Instance[]).filter(
              (i) => i.type === 'web' && i.state === 'up',
            ).length;

          assert.equal((await health(up.api))?.leader, true, 'A started first and leads');
          assert.equal((await health(bUrl))?.leader, false, 'B follows');
          assert.match(await paas('nodes'), new RegExp(`Scheduler: led by api \\S+ pid ${a.pid} at `));

          const site = `${up.work}/site`;
          up.run('mkdir', ['-p', site]);
          up.run('git', ['init', '-q', '-b', 'main'], site);
          up.run(PAAS, ['apps:create', 'site'], site);
          up.run('sh', ['-c', 'echo "site v1" > index.html && git add -A && git commit -qm v1'], site);
          up.run('git', ['push', '-q', 'paas', 'main'], site);
          await until(
            'the router serves site v1',
            async () => (await get(up.router, HOST)).body === 'site v1\n',
            60_000,
          );

          // a push through the follower: its receiver and build queue, the leader's deploy, whose
          // lines the pusher sees (read from the app's log)
          const { host } = new URL(bUrl);
          up.run('git', ['remote', 'add', 'b', `http://git:${up.token}@${host}/git/site.git`], site);
          up.run('sh', ['-c', 'echo "site v2" > index.html && git commit -qam v2'], site);
          const pushed = spawnSync('git', ['push', 'b', 'main'], { cwd: site, env: up.env, encoding: 'utf8' });
          assert.equal(pushed.status, 0, pushed.stderr);
          assert.match(pushed.stderr, /remote: .*Deployed v2/);
          await until(
            'the router serves site v2',
            async () => (await get(up.router, HOST)).body === 'site v2\n',
            10_000,
          );

          // a change through the follower reaches the leader's pass
          await paas('ps:scale', 'web=2', '-a', 'site');
          await until(
            'two web instances up (scaled through B, A leads)',
            async () => (await webUp()) === 2,
            60_000,
            250,
          );

          // the leader dies: its lock session closes with it, and B takes office
          const killedAt = performance.now();
          process.kill(a.pid, 'SIGKILL');
          await until('B leads', async () => (await health(bUrl))?.leader === true, 30_000, 20);
          const tookOver = Math.round(performance.now() - killedAt);
          t.diagnostic(`B took over the scheduler ${tookOver} ms after kill -9 of the leader`);
          console.log(`replicas: takeover after kill -9 of the leader api: ${tookOver} ms`);
          assert.match(await paas('nodes'), new RegExp(`Scheduler: led by api \\S+ pid ${started.child.pid} at `));

          await paas('ps:scale', 'web=3', '-a', 'site');
          await until('three web instances up (B leads)', async () => (await webUp()) === 3, 60_000, 250);
          assert.equal((await get(up.router, HOST)).body, 'site v2\n');
          // paas up brought A back; it follows
          const [, again] = /api is back at \S+ \(pid (\d+)\)/.exec(up.output()) ?? [];
          if (again) pids.add(Number(again));
          await until('A answers again', async () => (await health(up.api)) !== null, 60_000, 250);
          assert.equal((await health(up.api))?.leader, false, 'the restarted A follows');

          await stopDaemon(started);
        },
      );
    } finally {
      if (b) await stopDaemon(b);
      await db?.dispose();
    }
    assert.deepEqual(mountsUnder(work), [], 'no mount left');
    assert.deepEqual(
      [...pids].filter((pid) => isAlive(pid)),
      [],
      'no api process left',
    );
  });
});
