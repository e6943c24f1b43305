/**
 * ps and ps:scale through the CLI's entry point against the fake api
 * (../testing/platform-cli.ts), and `ps`/`logs` without `-a APP` keeping the engine's meaning.
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
    assert.equal((await t.ok('ps:scale', '-a', 'shop')).out, 'web=1:512M worker=0:512M\n');
    const scaled = await t.ok('ps:scale', 'web=3', 'worker=1', '-a', 'shop');
    assert.equal(scaled.err, 'Scaling processes... done, now running web at 3:512M and worker at 1:512M\n');
    const last = api.requests.at(-1);
    assert.deepEqual(last?.body, {
      updates: [
        { type: 'web', quantity: 3 },
        { type: 'worker', quantity: 1 },
      ],
    });
    assert.equal((await t.ok('ps:scale', 'web', '-a', 'shop')).out, 'web=3:512M\n');
    await t.ok('ps:scale', 'web=-1', 'worker=+2:1G', '-a', 'shop');
    assert.equal((await t.ok('ps:scale', '-a', 'shop')).out, 'web=2:512M worker=3:1G\n');

    const bad = await t.cli(['ps:scale', 'web=lots', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^paas: invalid scale argument 'web=lots': expected TYPE=N/);
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
      /^=== web \(512M\): npm start \(2\)\nweb\.1: up just now \(v1, node-1, 10\.88\.0\.2:5000\)\nweb\.2: up/,
    );
    assert.match(r.out, /\n\n=== worker \(1G\): node worker\.js \(3\)\nworker\.1: up/);
    assert.deepEqual(
      (JSON.parse((await t.ok('ps', '--app', 'shop', 'worker', '--json')).out) as { name: string }[]).map(
        (i) => i.name,
      ),
      ['worker.1', 'worker.2', 'worker.3'],
    );
    assert.equal((await t.ok('ps', '-a', 'blog')).out, 'No processes are running on blog.\n');
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
