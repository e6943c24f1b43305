/**
 * Always on: a real `paas up` (e2e/bench/paas-up.ts) with a static site deployed by `git push`,
 * and steady requests through the router while its components are killed with SIGKILL one at
 * a time. `paas up` restarts each (its supervisor), and:
 *
 *   api        requests keep answering (0 failed); it comes back and `paas ps` works again
 *   agent      0 failed; the new agent adopts the same containers
 *   worker     a router worker: the router's primary starts another, the router serves
 *   redis      the managed redis-server: 0 failed (the router keeps its table); a `git push`
 *              made while it is down waits for it and resumes when it is back (the time from
 *              "redis is back" to the build's first line is printed; target 5 s), and after it
 *              a `ps:scale` goes through
 *   flushall   Redis loses everything (an external one restarted without its data): 0 failed
 *              (the routers keep their table), and the scheduler writes the table again
 *
 * Everything is stopped and removed at the end, failed or not (withPaasUp), and no process of
 * the platform is left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Instance } from '@paas/api-types';
import { readAppRoute } from '@paas/platform/routes';
import { isAlive, mountsUnder, paasAsync } from '../support/cli';
import { type PaasUp, get, pushApp, until, withPaasUp } from '../bench/paas-up';

const HOST = 'site.localhost';
/** What the site answers, release by release. */
const BODIES = new Set(['site v1\n', 'site v2\n']);

/**
 * Requests through the router, a few at a time, back to back; outcomes counted by status (and
 * why, when there was no answer), each in the window its request started in.
 */
function load(router: string, concurrency = 3) {
  let outcomes = new Map<string, number>();
  let running = true;
  const inFlight = new Set<Promise<unknown>>();
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      const window = outcomes;
      const request = get(router, HOST, 5000);
      inFlight.add(request);
      const res = await request;
      inFlight.delete(request);
      const key =
        res.status === 200 && BODIES.has(res.body) ? '200' : `${res.status} ${res.error ?? res.body.slice(0, 80)}`;
      window.set(key, (window.get(key) ?? 0) + 1);
    }
  });
  return {
    /** The outcomes of the requests started so far (once they ended), and a fresh count from now on. */
    async take(): Promise<Record<string, number>> {
      const window = outcomes;
      outcomes = new Map();
      await Promise.all([...inFlight]);
      return Object.fromEntries(window);
    },
    async stop(): Promise<void> {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** The pid `paas up` listed for a component when it came up. */
function pidOf(up: PaasUp, name: string): number {
  const pid = Number(new RegExp(`\\n\\s+${name}\\s+\\S+\\s+pid (\\d+)`).exec(up.output())?.[1]);
  assert.ok(pid > 0, `no pid for ${name} in:\n${up.output()}`);
  return pid;
}

/**
 * `git push paas main` in `dir`, in the background: its exit status, its output, and when the
 * first line matching `mark` came (ms since the epoch; 0 if none did).
 */
function pushInBackground(
  up: PaasUp,
  dir: string,
  mark: RegExp,
): Promise<{ status: number | null; output: string; markedAt: number }> {
  return new Promise((resolve) => {
    const child = spawn('git', ['push', 'paas', 'main'], { cwd: dir, env: up.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let markedAt = 0;
    const keep = (c: Buffer): void => {
      output += c.toString();
      if (markedAt === 0 && mark.test(output)) markedAt = Date.now();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output, markedAt });
    });
  });
}

/** Child processes of `pid` (the router's workers). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

/** Waits for a line of `paas up` matching `pattern` after the first `from` characters. */
async function line(up: PaasUp, pattern: RegExp, from: number, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  let match: RegExpMatchArray | null = null;
  await until(
    `${pattern} in the output of paas up`,
    async () => (match = pattern.exec(up.output().slice(from))) !== null,
    timeoutMs,
    50,
  ).catch((err: Error) => assert.fail(`${err.message}:\n${up.output().slice(from)}`));
  assert.ok(match);
  return match;
}

describe('always on: paas up restarts what dies, the apps keep serving', { timeout: 240_000 }, () => {
  it('survives kill -9 of the api, the agent, a router worker and redis-server', async (t) => {
    let work = '';
    const pids = new Set<number>();
    await withPaasUp(
      {
        name: 'paas-e2e-always-',
        bridge: `pao${process.pid % 10000}`,
        subnet: `10.235.${process.pid % 250}.0/24`,
        images: ['busybox'],
        env: { PAAS_ROUTER_WORKERS: '2', PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
      },
      async (up) => {
        work = up.work;
        const siteDir = pushApp(up, 'site', { 'index.html': 'site v1\n' });
        await until('the router serves site v1', async () => (await get(up.router, HOST)).body === 'site v1\n', 60_000);
        // the CLI runs asynchronously, so that the requests go on meanwhile
        const paas = async (...args: string[]): Promise<string> => {
          const r = await paasAsync(args, up.env);
          assert.equal(r.status, 0, `paas ${args.join(' ')}: ${r.stderr}${r.stdout}`);
          return r.stdout;
        };
        const instances = async (): Promise<Instance[]> =>
          JSON.parse(await paas('ps', '--json', '-a', 'site')) as Instance[];
        const containers = async (): Promise<string[]> =>
          (await instances()).map((i) => `${i.name} ${i.containerId} ${i.state}`).sort();
        const before = await containers();
        assert.equal(before.length, 1, before.join('\n'));
        for (const name of ['api', 'agent', 'router', 'redis', 'registry']) pids.add(pidOf(up, name));

        const requests = load(up.router);
        /** Kills `pid`, waits for `back` in the output and some requests after it; the outcomes meanwhile. */
        const kill = async (name: string, pid: number, back: RegExp): Promise<Record<string, number>> => {
          await requests.take();
          const from = up.output().length;
          process.kill(pid, 'SIGKILL');
          const [, newPid] = await line(up, back, from);
          pids.add(Number(newPid));
          await new Promise((r) => setTimeout(r, 500));
          const outcomes = await requests.take();
          t.diagnostic(`${name} killed: ${JSON.stringify(outcomes)}`);
          return outcomes;
        };
        try {
          const api = await kill('api', pidOf(up, 'api'), /api is back at \S+ \(pid (\d+)\)/);
          assert.deepEqual(Object.keys(api), ['200'], 'every request answered while the api was down');
          assert.deepEqual(await containers(), before, '`paas ps` answers again, the instance untouched');

          const agent = await kill('agent', pidOf(up, 'agent'), /agent is back at \S+ \(pid (\d+)\)/);
          assert.deepEqual(Object.keys(agent), ['200'], 'every request answered while the agent was down');
          const id = /^web\.1 (\S+) up$/.exec(before[0] ?? '')?.[1] ?? '';
          await line(up, new RegExp(`agent \\| .*adopted site web\\.1 \\(container ${id.slice(0, 12)}`), 0);
          await until(
            'the api lists the adopted container as up',
            async () => `${await containers()}` === `${before}`,
            30_000,
            250,
          );

          const router = pidOf(up, 'router');
          const [worker] = childrenOf(router);
          assert.ok(worker, 'the router has workers');
          const from = up.output().length;
          process.kill(worker, 'SIGKILL');
          await line(up, new RegExp(`router \\| proxy: worker ${worker} exited \\(SIGKILL\\); starting another`), from);
          await until('the router has two workers again', async () => childrenOf(router).length === 2, 30_000);
          for (const pid of childrenOf(router)) pids.add(pid);
          await new Promise((r) => setTimeout(r, 500));
          // a request the dead worker was answering may fail (reset): counted; none is left hanging
          const killedWorker = await requests.take();
          t.diagnostic(`router worker killed: ${JSON.stringify(killedWorker)}`);
          assert.equal(killedWorker['0 timeout'], undefined, 'no connection was left unanswered');
          assert.equal((await get(up.router, HOST)).body, 'site v1\n');

          // a push made while Redis is down waits for it: its build starts once Redis is back
          writeFileSync(join(siteDir, 'index.html'), 'site v2\n');
          up.run('git', ['commit', '-qam', 'v2'], siteDir);
          await requests.take();
          const beforeRedis = up.output().length;
          process.kill(pidOf(up, 'redis'), 'SIGKILL');
          const pushing = pushInBackground(up, siteDir, /Static site detected/);
          const [, redisPid] = await line(up, /redis is back at \S+ \(pid (\d+)\)/, beforeRedis);
          const back = Date.now();
          pids.add(Number(redisPid));
          const pushed = await pushing;
          assert.equal(pushed.status, 0, pushed.output);
          assert.ok(pushed.markedAt > 0, pushed.output);
          t.diagnostic(
            `push made while redis was down: its build started ${pushed.markedAt - back} ms after redis was back`,
          );
          await until(
            'the router serves site v2',
            async () => (await get(up.router, HOST)).body === 'site v2\n',
            30_000,
          );
          const redis = await requests.take();
          t.diagnostic(`redis killed (and a push meanwhile): ${JSON.stringify(redis)}`);
          assert.deepEqual(
            Object.keys(redis),
            ['200'],
            'every request answered while redis was down and the push deployed',
          );
          await paas('ps:scale', 'web=2', '-a', 'site');
          await until(
            'two web instances up',
            async () => (await instances()).filter((i) => i.type === 'web' && i.state === 'up').length === 2,
            60_000,
            250,
          );
          assert.deepEqual(Object.keys(await requests.take()), ['200'], 'every request answered while scaling');

          await up.redis().flushall();
          await until(
            'the route table written again from the database',
            async () => (await readAppRoute(up.redis(), 'site')).route?.backends.length === 2,
            30_000,
            100,
          );
          await new Promise((r) => setTimeout(r, 500));
          assert.deepEqual(
            Object.keys(await requests.take()),
            ['200'],
            'every request answered while the table was lost',
          );
          assert.doesNotMatch(up.output(), /stopping the platform/);
        } finally {
          await requests.stop();
        }
      },
    );
    assert.deepEqual(mountsUnder(work), [], 'no mount left');
    assert.deepEqual(
      [...pids].filter((pid) => isAlive(pid)),
      [],
      'no process of the platform left',
    );
  });
});
