/**
 * ps, ps:scale, ps:resize, ps:restart and ps:stop through the CLI's entry point against the
 * fake api (../testing/platform-cli.ts), and `ps`/`logs` without `-a APP` keeping the engine's
 * meaning.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas ps', () => {
  const t = platformCli();
  before(() => {
    t.api.addApp('shop');
    t.api.addApp('blog');
  });

  it('ps:scale scales, shows, and refuses bad input', async () => {
    const { api } = t;
    api.deploy('shop', { web: 'npm start', worker: 'node worker.js' });
    assert.equal((await t.ok('ps:scale', '-a', 'shop')).out, 'web=1:basic worker=0:basic\n');
    const scaled = await t.ok('ps:scale', 'web=3', 'worker=1', '-a', 'shop');
    assert.equal(scaled.err, 'Scaling processes... done, web at 3:basic (3 up) and worker at 1:basic (1 up)\n');
    const last = api.requests.at(-1);
    assert.deepEqual(last?.body, {
      updates: [
        { type: 'web', quantity: 3 },
        { type: 'worker', quantity: 1 },
      ],
    });
    assert.equal((await t.ok('ps:scale', 'web', '-a', 'shop')).out, 'web=3:basic\n');
    await t.ok('ps:scale', 'web=-1', 'worker=+2:1G', '-a', 'shop');
    assert.equal((await t.ok('ps:scale', '-a', 'shop')).out, 'web=2:basic worker=3:standard-2x\n');

    const bad = await t.cli(['ps:scale', 'web=lots', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^paas: invalid scale argument 'web=lots': expected TYPE=N/);
    const size = await t.cli(['ps:scale', 'web=1:huge', '-a', 'shop']);
    assert.equal(size.code, 2);
    assert.match(size.err, /^paas: unknown size 'huge' in 'web=1:huge': expected a size: nano, micro, basic/);
    const missing = await t.cli(['ps:scale', 'clock=1', '-a', 'shop']);
    assert.equal(missing.code, 1);
    assert.equal(missing.err, "paas: the release has no process type 'clock'\n");
    const unknown = await t.cli(['ps:scale', 'clock', '-a', 'shop']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.err, "paas: no process type 'clock' on shop; it has web, worker\n");
  });

  it('ps -a APP lists the instances by process type', async () => {
    const r = await t.ok('ps', '-a', 'shop');
    assert.match(
      r.out,
      /^=== web \(basic\): npm start \(2 up\)\nweb\.1: up just now \(v1, node-1, 10\.88\.0\.2:5000\)\nweb\.2: up/,
    );
    assert.match(r.out, /\n\n=== worker \(standard-2x\): node worker\.js \(3 up\)\nworker\.1: up/);
    assert.deepEqual(
      (JSON.parse((await t.ok('ps', '--app', 'shop', 'worker', '--json')).out) as { name: string }[]).map(
        (i) => i.name,
      ),
      ['worker.1', 'worker.2', 'worker.3'],
    );
    assert.equal((await t.ok('ps', '-a', 'blog')).out, 'No processes are running on blog.\n');
  });

  it('says what waits for room, in ps:scale and in ps', async () => {
    const { api } = t;
    api.deploy('blog', { web: 'npm start' });
    // the pretend nodes hold shop's 5 and 2 more
    api.room = 7;
    try {
      const scaled = await t.ok('ps:scale', 'web=4', '-a', 'blog');
      assert.equal(
        scaled.err,
        'Scaling processes... done, web at 4:basic (2 of 4 up, 2 waiting: no node has 256 MiB free)\n',
      );
      const ps = await t.ok('ps', '-a', 'blog');
      assert.equal(
        ps.out,
        [
          '=== web (basic): npm start (2 of 4 up, 2 waiting: no node has 256 MiB free)',
          ...[1, 2].map((n) => `web.${n}: up just now (v1, node-1, 10.88.0.${n + 1}:5000)`),
          'web.3: pending (no node has 256 MiB free)',
          'web.4: pending (no node has 256 MiB free)',
          '',
        ].join('\n'),
      );
    } finally {
      api.room = null;
    }
  });

  it('ps:resize, ps:restart and ps:stop say what they did', async () => {
    const { api } = t;
    const resized = await t.ok('ps:resize', 'worker=nano', '-a', 'shop');
    assert.equal(resized.err, 'Scaling processes... done, worker at 3:nano (3 up)\n');
    assert.deepEqual(api.requests.at(-1)?.body, { updates: [{ type: 'worker', quantity: 3, size: 'nano' }] });
    const badSize = await t.cli(['ps:resize', 'worker=tiny', '-a', 'shop']);
    assert.equal(badSize.code, 2);
    assert.match(badSize.err, /unknown size 'tiny'/);

    const restart = await t.ok('ps:restart', 'web', '-a', 'shop');
    assert.equal(restart.err, 'Restarting web on shop... done, 2 replaced one by one as their replacements come up\n');
    assert.deepEqual(api.requests.at(-1)?.body, { process: 'web' });
    await t.ok('ps:restart', '-a', 'shop');
    assert.deepEqual(api.requests.at(-1)?.body, {});
    const none = await t.cli(['ps:restart', 'clock', '-a', 'shop']);
    assert.equal(none.code, 1);
    assert.match(none.err, /no running clock instances on shop/);

    const stop = await t.ok('ps:stop', 'web.2', '-a', 'shop');
    assert.equal(stop.err, 'Stopping web.2 on shop... done, a new one takes its place\n');
    assert.equal(api.requests.at(-1)?.path, '/api/apps/shop/instances/web.2/stop');
    const gone = await t.cli(['ps:stop', 'web.9', '-a', 'shop']);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /no running instance web.9 on shop/);
    const noArg = await t.cli(['ps:stop', '-a', 'shop']);
    assert.equal(noArg.code, 2);
  });

  it('ps:autoscale:enable and :disable set autoscale, ps shows it and sleeping, bad input is refused', async () => {
    const { api } = t;
    api.addApp('nap');
    api.deploy('nap', { web: 'npm start' });
    await t.ok('ps:scale', 'web=1', '-a', 'nap');
    const on = await t.ok('ps:autoscale:enable', 'web', '--min', '0', '--max', '5', '--idle', '2s', '-a', 'nap');
    assert.equal(on.err, 'Autoscaling web on nap... done, 1 up; autoscale 0..5, 20 per instance, idle 2s\n');
    assert.deepEqual(api.requests.at(-1)?.body, { min: 0, max: 5, concurrency: 20, idle: '2s' });
    assert.match((await t.ok('ps', '-a', 'nap')).out, /^=== web \(basic\): npm start \(1 up; autoscale 0\.\.5, 20/);
    // while autoscale is on, the api refuses a manual scale
    const manual = await t.cli(['ps:scale', 'web=2', '-a', 'nap']);
    assert.notEqual(manual.code, 0);
    assert.match(manual.err, /autoscale sets web's quantity; ps:autoscale:disable web first/);
    // asleep: scaled to zero by the scheduler
    api.scale(api.state('nap'), 'web', 0);
    await t.ok('ps:autoscale:enable', 'web', '--min', '0', '--max', '5', '--concurrency', '10', '-a', 'nap');
    assert.equal(
      (await t.ok('ps', '-a', 'nap')).out,
      '=== web (basic): npm start (sleeping; autoscale 0..5, 10 per instance, idle 15m)\n',
    );
    // off: a sleeping type is woken to one, since nothing would wake it any more
    const off = await t.ok('ps:autoscale:disable', 'web', '-a', 'nap');
    assert.match(off.err, /^Turning autoscale of web off on nap\.\.\. done, web stays at 1/);
    // on again with min above the quantity: brought up to min at once
    const raised = await t.ok('ps:autoscale:enable', 'web', '--min', '2', '--max', '5', '-a', 'nap');
    assert.match(raised.err, /done, 2 up; autoscale 2\.\.5/);
    await t.ok('ps:autoscale:disable', 'web', '-a', 'nap');
    const hard = await t.ok(
      'ps:autoscale:enable',
      'web',
      '--min',
      '1',
      '--max',
      '5',
      '--hard-limit',
      '30',
      '-a',
      'nap',
      '--json',
    );
    assert.equal((JSON.parse(hard.out) as { autoscale: { hardLimit: number } }).autoscale.hardLimit, 30);
    assert.match(hard.err, /autoscale 1\.\.5, 20 per instance, hard limit 30, idle 15m/);
    assert.match((await t.ok('ps', '-a', 'nap')).out, /hard limit 30/);
    await t.ok('ps:autoscale:disable', 'web', '-a', 'nap');
    for (const [args, message] of [
      [
        ['--min', '0', '--max', '2', '--hard-limit', '19'],
        /^paas: --hard-limit: hardLimit 19 is less than concurrency 20/,
      ],
      [['--min', '0', '--max', '2', '--hard-limit', 'lots'], /^paas: --hard-limit must be a whole number, not 'lots'/],
      [['--min', '3', '--max', '2'], /^paas: --min: min 3 is more than max 2/],
      [
        ['--min', '0', '--max', '2', '--concurrency', '0'],
        /^paas: --concurrency: concurrency must be a whole number from 1/,
      ],
      [['--min', '0', '--max', '2', '--idle', '15'], /^paas: --idle must be a whole number with a unit/],
      [['--min', 'x', '--max', '2'], /^paas: --min must be a whole number, not 'x'/],
      [['--min', '0', '--max', '20000'], /^paas: --max: max must be a whole number from 1 to 10000/],
    ] as const) {
      const bad = await t.cli(['ps:autoscale:enable', 'web', ...args, '-a', 'nap']);
      assert.equal(bad.code, 2, bad.err);
      assert.match(bad.err, message);
    }
    const unknown = await t.cli(['ps:autoscale:enable', 'clock', '--min', '0', '--max', '2', '-a', 'nap']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /process type 'clock' not found/);
  });

  it('leaves the engine verbs alone', async () => {
    const ps = await t.cli(['ps', '-a']);
    assert.equal(ps.code, 0, ps.err);
    assert.match(ps.out, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n$/);
    const logs = await t.cli(['logs']);
    assert.equal(logs.code, 2);
    assert.match(logs.err, /missing required argument 'CONTAINER'/);
    const help = await t.cli(['help', 'ps']);
    assert.match(help.out, /On the platform: paas ps -a APP/);
    const platformHelp = await t.cli(['ps', '--app', 'x', '--help']);
    assert.match(platformHelp.out, /List an app's processes/);
  });
});
