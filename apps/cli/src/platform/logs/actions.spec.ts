/** logs through the CLI's entry point against the fake api (../testing/platform-cli.ts): the last lines, a source, following. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas logs', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('logs shows the last lines, filters by source, and follows until interrupted', async () => {
    const { api } = t;
    api.log('shop', 'api', 'Release v5 created');
    api.log('shop', 'web.1', 'listening on 5000');
    api.log('shop', 'worker.1', 'working');
    const r = await t.ok('logs', '-a', 'shop', '-n', '2');
    assert.match(r.out, /^\S+Z app\[web\.1\]: listening on 5000\n\S+Z app\[worker\.1\]: working\n$/);
    assert.equal(api.requests.at(-1)?.path, '/api/apps/shop/logs?tail=2');
    assert.match((await t.ok('logs', '--app', 'shop', '-s', 'api')).out, /^\S+Z paas\[api\]: Release v5 created\n$/);
    assert.deepEqual(JSON.parse((await t.ok('logs', '-a', 'shop', '-n', '1', '--json')).out), {
      t: JSON.parse((await t.ok('logs', '-a', 'shop', '-n', '1', '--json')).out).t,
      source: 'worker.1',
      line: 'working',
    });

    let seen = '';
    let sawNew: () => void = () => undefined;
    const newLine = new Promise<void>((resolve) => (sawNew = resolve));
    const following = t.cli(['logs', '-a', 'shop', '-f', '-n', '0'], {}, (s) => {
      seen += s;
      if (seen.includes('later')) sawNew();
    });
    while (!api.requests.some((q) => q.path === '/api/apps/shop/logs?tail=0&follow=1')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    api.log('shop', 'web.1', 'later');
    await newLine;
    process.emit('SIGINT');
    const followed = await following;
    assert.equal(followed.code, 0);
    assert.match(followed.out, /^\S+Z app\[web\.1\]: later\n$/);
  });

  it('takes -n 0 (no backlog) and refuses a --num that is not a count before asking the api', async () => {
    assert.equal((await t.ok('logs', '-a', 'shop', '-n', '0')).out, '');
    assert.equal(t.api.requests.at(-1)?.path, '/api/apps/shop/logs?tail=0');
    const before = t.api.requests.length;
    for (const num of ['-1', '1.5', 'abc', '']) {
      const r = await t.cli(['logs', '-a', 'shop', '-n', num]);
      assert.deepEqual(r, { code: 2, out: '', err: `paas: invalid --num '${num}': expected a number\n` });
    }
    assert.equal(t.api.requests.length, before);
  });

  it("takes Heroku's forms: the app from the paas remote, --tail, --ps/--dyno, --source app|paas", async () => {
    const { api } = t;
    api.log('shop', 'api', 'Deploying v6');
    api.log('shop', 'web.2', 'web two');
    api.log('shop', 'worker.1', 'worker one');
    t.git(t.repo, 'remote', 'add', 'paas', `${api.url}/git/shop.git`);
    const shown = async (...argv: string[]): Promise<string[]> =>
      (await t.inRepo(() => t.ok(...argv))).out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\S+Z /, ''));
    // `paas logs` in the app's repository is the platform's (the engine's names a container)
    assert.deepEqual((await shown('logs', '-n', '3')).length, 3);
    assert.equal(api.requests.at(-1)?.path, '/api/apps/shop/logs?tail=3');
    assert.deepEqual(await shown('logs', '-n', '3', '--ps', 'web'), ['app[web.2]: web two']);
    assert.deepEqual(await shown('logs', '-n', '3', '-d', 'worker.1'), ['app[worker.1]: worker one']);
    assert.deepEqual(await shown('logs', '-n', '3', '--source', 'app'), [
      'app[web.2]: web two',
      'app[worker.1]: worker one',
    ]);
    assert.deepEqual(await shown('logs', '-n', '3', '-s', 'paas'), ['paas[api]: Deploying v6']);
    assert.deepEqual(await shown('logs', '-n', '3', '-s', 'app', '-p', 'worker'), ['app[worker.1]: worker one']);
    // --tail follows, as -f does
    let seen = '';
    let sawNew: () => void = () => undefined;
    const newLine = new Promise<void>((resolve) => (sawNew = resolve));
    const asked = api.requests.length;
    const following = t.inRepo(() =>
      t.cli(['logs', '--tail', '-n', '0'], {}, (out) => {
        seen += out;
        if (seen.includes('tailed')) sawNew();
      }),
    );
    while (!api.requests.slice(asked).some((q) => q.path === '/api/apps/shop/logs?tail=0&follow=1')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    api.log('shop', 'web.2', 'tailed');
    await newLine;
    process.emit('SIGINT');
    assert.equal((await following).code, 0);
  });
});
