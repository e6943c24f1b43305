/**
 * Scale to zero on a real `paas up` (e2e/bench/paas-up.ts, two router workers): a static site
 * with `ps:autoscale:enable web --min 0 --idle 2s` goes to sleep once idle (no instance, its
 * route says `sleeping`, `paas ps` says so); a request through the router then wakes it and is
 * answered 200, and the app's log shows the wake's stages; a `--hard-limit` reaches the route
 * table and requests under it pass. A release whose web process crashes
 * at start: its wake answers 503 with the reason in the app's log, and the next requests answer
 * 503 during the back-off without starting it again (no restart loop).
 *
 * Everything is stopped and removed at the end, failed or not (withPaasUp).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAppRoute } from '@paas/platform/routes';
import { PAAS, type PaasUp, get, pushApp, until, withPaasUp } from '../bench/paas-up';

const HOST = 'nap.localhost';
/** busybox httpd, unless CRASH is set: then it exits at once, as a broken release would. */
const PROCFILE = `web: sh -c 'test -z "$CRASH" || { echo "crashing on purpose"; exit 3; }; exec httpd -f -v -p "$PORT" -h /www'\n`;

const sleeping = async (up: PaasUp): Promise<boolean> => {
  const route = (await readAppRoute(up.redis(), 'nap')).route;
  return route?.sleeping === true && route.backends.length === 0;
};

const logs = (up: PaasUp): string => up.run(PAAS, ['logs', '-a', 'nap', '-n', '500']);

describe('scale to zero: sleeps when idle, wakes on the first request', { timeout: 300_000 }, () => {
  it('sleeps, wakes through the router with 200, and backs off a wake that crashes', async () => {
    await withPaasUp(
      {
        name: 'paas-e2e-wake-',
        bridge: `paw${process.pid % 10000}`,
        subnet: `10.236.${process.pid % 250}.0/24`,
        images: ['busybox'],
        // a long wake back-off: the spec checks the 503s of the back-off at its own pace
        env: {
          PAAS_ROUTER_WORKERS: '2',
          PAAS_DRAIN_MS: '200',
          PAAS_STOP_TIMEOUT: '2',
          PAAS_WAKE_BACKOFF_MS: '120000',
        },
      },
      async (up) => {
        pushApp(up, 'nap', { 'index.html': 'nap v1\n', Procfile: PROCFILE });
        await until('the router serves nap', async () => (await get(up.router, HOST)).body === 'nap v1\n', 60_000);
        const enabled = up.run(PAAS, [
          'ps:autoscale:enable',
          'web',
          '--min',
          '0',
          '--max',
          '2',
          '--idle',
          '2s',
          '-a',
          'nap',
        ]);
        assert.equal(enabled, '');
        await until('nap asleep', () => sleeping(up), 60_000, 100);
        assert.match(
          up.run(PAAS, ['ps', '-a', 'nap']),
          /=== web \(basic\): .* \(sleeping; autoscale 0\.\.2, 20 per instance, idle 2s\)/,
        );

        // the first request wakes it, through whichever worker takes it
        const woken = await get(up.router, HOST, 30_000);
        assert.deepEqual([woken.status, woken.body, woken.error], [200, 'nap v1\n', undefined]);
        await until(
          'the stages in the log',
          async () => /Woke web: requested, placed \+\d+ ms/.test(logs(up)),
          30_000,
          200,
        );
        const log = logs(up);
        for (const stage of [
          /Waking web: requested \d+ ms ago/,
          /Starting web\.1 \(v\d+\) on /,
          /Woke web: requested, placed \+\d+ ms(, started \+\d+ ms)?, healthy \+\d+ ms/,
        ])
          assert.match(log, stage);

        await until(
          'the first byte in the log',
          async () => /Woke web: first byte to the client \+\d+ ms after its request/.test(logs(up)),
          30_000,
          200,
        );

        // a hard limit reaches every router worker through the route table; requests under it pass
        up.run(PAAS, [
          'ps:autoscale:enable',
          'web',
          '--min',
          '0',
          '--max',
          '2',
          '--idle',
          '2s',
          '--hard-limit',
          '25',
          '-a',
          'nap',
        ]);
        assert.match(up.run(PAAS, ['ps', '-a', 'nap']), /autoscale 0\.\.2, 20 per instance, hard limit 25, idle 2s\)/);
        await until(
          'the route carries the hard limit',
          async () => (await readAppRoute(up.redis(), 'nap')).route?.hardLimit === 25,
          30_000,
          100,
        );
        const limited = await get(up.router, HOST, 30_000);
        assert.deepEqual([limited.status, limited.body], [200, 'nap v1\n']);

        // a release whose web crashes at start, deployed while asleep
        await until('nap asleep again', () => sleeping(up), 60_000, 100);
        up.run(PAAS, ['config:set', 'CRASH=1', '-a', 'nap']);
        // starts since the crashing release was made
        const starts = (): number =>
          ((logs(up).split('Set CRASH config vars')[1] ?? '').match(/Starting web\.1 /g) ?? []).length;
        const failed = await get(up.router, HOST, 30_000);
        assert.equal(failed.status, 503, `${failed.status} ${failed.body}`);
        assert.match(failed.body, /nap failed to wake|did not wake/);
        // the back-off: answered 503 at once, nothing started again
        const again = await get(up.router, HOST, 10_000);
        assert.equal(again.status, 503);
        assert.match(again.body, /failed to wake \(its log says why\)/);
        await until(
          'the reason in the log',
          async () => /Wake of web failed: web\.1 failed: the process exited with code 3/.test(logs(up)),
          30_000,
          200,
        );
        assert.equal(starts(), 1, logs(up));
        assert.match(logs(up), /app\[web\.1\]: crashing on purpose/);
        assert.ok(await sleeping(up));
      },
    );
  });
});
