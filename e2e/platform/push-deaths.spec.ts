/**
 * A push across the death of its api: a real `paas up` (e2e/bench/paas-up.ts) with a static
 * site live, then a push whose build takes a while (a `RUN sleep`), and the api killed with
 * SIGKILL while that build runs. `paas up` restarts the api (its supervisor), and:
 *
 *   - the pusher's `git push` failed, and the server's main did not move;
 *   - the build of that push is failed once its lease runs out (push-lease.ts), no release of
 *     its commit goes live, the site keeps serving v1;
 *   - no receive-pack or proc-receive hook of that push is left, nor its build's container;
 *   - the same commit pushed again goes live, and main moves to it.
 *
 * Then redis-server is killed while a push builds (paas up restarts it): the push goes through,
 * its build is run once and released once.
 *
 * Everything is stopped and removed at the end, failed or not (withPaasUp).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Build, Release } from '@paas/api-types';
import { paasAsync } from '../support/cli';
import { get, pushApp, until, withPaasUp } from '../bench/paas-up';

const HOST = 'site.localhost';

/** Pids of live processes whose command line mentions `text`. */
async function processesWith(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${entry} ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}

describe('a push across the death of its api', { timeout: 300_000 }, () => {
  it('kill -9 of the api mid-build: the push fails, main stays, nothing of it goes live', async () => {
    await withPaasUp(
      {
        name: 'paas-e2e-push-deaths-',
        bridge: `pad${process.pid % 10000}`,
        subnet: `10.236.${process.pid % 250}.0/24`,
        images: ['busybox'],
        env: {
          PAAS_DRAIN_MS: '200',
          PAAS_STOP_TIMEOUT: '2',
        },
      },
      async (up) => {
        const paas = async (...args: string[]): Promise<string> => {
          const r = await paasAsync(args, up.env);
          assert.equal(r.status, 0, `paas ${args.join(' ')}: ${r.stderr}${r.stdout}`);
          return r.stdout;
        };
        const site = pushApp(up, 'site', { 'index.html': 'site v1\n' });
        await until('the router serves site v1', async () => (await get(up.router, HOST)).body === 'site v1\n', 60_000);
        const v1 = up.run('git', ['rev-parse', 'HEAD'], site).trim();

        // v2 builds for a while: the api dies in the middle of it
        const dockerfile = [
          'FROM busybox',
          'RUN echo building v2 && sleep 20 && echo built v2',
          'ENV PORT=5000',
          'COPY . /www',
          'CMD httpd -f -p "$PORT" -h /www',
          '',
        ].join('\n');
        await writeFile(join(site, 'index.html'), 'site v2\n');
        await writeFile(join(site, 'Dockerfile'), dockerfile);
        up.run('sh', ['-c', 'git add -A && git commit -qm v2'], site);
        const v2 = up.run('git', ['rev-parse', 'HEAD'], site).trim();
        const push = spawn('git', ['push', 'paas', 'main'], {
          cwd: site,
          env: up.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let said = '';
        push.stdout.on('data', (c: Buffer) => (said += c.toString()));
        push.stderr.on('data', (c: Buffer) => (said += c.toString()));
        const pushed = new Promise<number | null>((resolve) => push.once('close', (code) => resolve(code)));
        try {
          await until(
            'the build runs its RUN step',
            async () => (await processesWith('building v2 && sleep 20 && echo built v2')).length > 0,
            120_000,
            100,
          );
          const api = Number(/\n\s+api\s+\S+\s+pid (\d+)/.exec(up.output())?.[1]);
          assert.ok(api > 0, up.output());
          const from = up.output().length;
          process.kill(api, 'SIGKILL');
          assert.notEqual(await pushed, 0, `the push failed:\n${said}`);
          await until('the api is back', async () => /api is back at/.test(up.output().slice(from)), 60_000, 100);
        } finally {
          if (push.exitCode === null) push.kill('SIGKILL');
        }

        const head = async (): Promise<string> =>
          up.run('git', ['ls-remote', 'paas', 'refs/heads/main'], site).split(/\s/)[0] ?? '';
        assert.equal(await head(), v1, 'main did not move');
        const builds = async (): Promise<Build[]> =>
          JSON.parse(await paas('builds', '--json', '-a', 'site')) as Build[];
        await until(
          'the build of the dead push is failed',
          async () => (await builds()).find((b) => b.commit === v2)?.status === 'failed',
          60_000,
          500,
        );
        const dead = (await builds()).find((b) => b.commit === v2);
        assert.match(dead?.error ?? '', /push of this build is gone/);
        const releases = JSON.parse(await paas('releases', '--json', '-a', 'site')) as Release[];
        assert.deepEqual(
          releases.filter((r) => r.status === 'live' || r.status === 'deploying').map((r) => r.version),
          [1],
          'v1 alone serves',
        );
        assert.equal((await get(up.router, HOST)).body, 'site v1\n');
        assert.equal(await head(), v1);
        const hooks = join(up.env['PAAS_ROOT'] ?? '', 'platform', 'git');
        assert.deepEqual(await processesWith(hooks), [], 'no receive-pack or hook of the dead push is left');
        // the restarted api's builder removed the step container the dead one left running
        assert.deepEqual(
          await processesWith('building v2 && sleep 20 && echo built v2'),
          [],
          'no build container of it is left',
        );

        // the same commit again: it builds, goes live, and main moves to it
        up.run('git', ['push', '-q', 'paas', 'main'], site);
        assert.equal(await head(), v2);
        await until('the router serves site v2', async () => (await get(up.router, HOST)).body === 'site v2\n', 60_000);

        // redis-server dies mid-build (paas up restarts it): the push waits it out and goes
        // live, its build run once and released once
        await writeFile(join(site, 'index.html'), 'site v3\n');
        await writeFile(
          join(site, 'Dockerfile'),
          dockerfile.replace('building v2 && sleep 20 && echo built v2', 'building v3 && sleep 5'),
        );
        up.run('sh', ['-c', 'git add -A && git commit -qm v3'], site);
        const v3 = up.run('git', ['rev-parse', 'HEAD'], site).trim();
        const again = spawn('git', ['push', 'paas', 'main'], {
          cwd: site,
          env: up.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let told = '';
        again.stdout.on('data', (c: Buffer) => (told += c.toString()));
        again.stderr.on('data', (c: Buffer) => (told += c.toString()));
        const pushedAgain = new Promise<number | null>((resolve) => again.once('close', (code) => resolve(code)));
        try {
          await until('the build runs its RUN step', async () => /building v3/.test(told), 120_000, 100);
          const redis = Number(/\n\s+redis\s+\S+\s+pid (\d+)/.exec(up.output())?.[1]);
          assert.ok(redis > 0, up.output());
          const from = up.output().length;
          process.kill(redis, 'SIGKILL');
          await until('redis is back', async () => /redis is back at/.test(up.output().slice(from)), 60_000, 100);
          assert.equal(await pushedAgain, 0, `the push went through:\n${told}`);
        } finally {
          if (again.exitCode === null) again.kill('SIGKILL');
        }
        assert.doesNotMatch(told, /Build restarted/);
        assert.equal(await head(), v3);
        await until('the router serves site v3', async () => (await get(up.router, HOST)).body === 'site v3\n', 60_000);
        assert.deepEqual(
          (await builds()).filter((b) => b.commit === v3).map((b) => b.status),
          ['succeeded'],
        );
        const made = JSON.parse(await paas('releases', '--json', '-a', 'site')) as Release[];
        assert.equal(made.filter((r) => r.description === `Deploy ${v3.slice(0, 8)}`).length, 1, 'released once');
      },
    );
  });
});
