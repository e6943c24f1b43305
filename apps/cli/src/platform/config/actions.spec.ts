/**
 * config, config:get, config:set and config:unset through the CLI's entry point against the
 * fake api (../testing/platform-cli.ts): Heroku's output formats, and bad arguments refused
 * before the api is asked.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas config', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('config:set, config, config:get and config:unset, Heroku style', async () => {
    const set = await t.ok(
      'config:set',
      '-a',
      'shop',
      'DATABASE_URL=postgres://db/x',
      'LANG=en_US.UTF-8',
      'EMPTY=',
      'Q=a b=c',
    );
    assert.equal(set.err, 'Setting DATABASE_URL, LANG, EMPTY and Q and restarting shop... done, v1\n');
    assert.equal(set.out, 'DATABASE_URL: postgres://db/x\nLANG:         en_US.UTF-8\nEMPTY:\nQ:            a b=c\n');
    assert.equal(
      (await t.ok('config', '-a', 'shop')).out,
      '=== shop Config Vars\nDATABASE_URL: postgres://db/x\nEMPTY:\nLANG:         en_US.UTF-8\nQ:            a b=c\n',
    );
    assert.equal(
      (await t.ok('config', '-a', 'shop', '--shell')).out,
      "DATABASE_URL=postgres://db/x\nEMPTY=''\nLANG=en_US.UTF-8\nQ='a b=c'\n",
    );
    assert.deepEqual(JSON.parse((await t.ok('config', '-a', 'shop', '--json')).out), {
      DATABASE_URL: 'postgres://db/x',
      LANG: 'en_US.UTF-8',
      EMPTY: '',
      Q: 'a b=c',
    });
    assert.equal((await t.ok('config:get', 'LANG', '-a', 'shop')).out, 'en_US.UTF-8\n');
    assert.equal((await t.ok('config:get', 'Q', '-a', 'shop', '--shell')).out, "Q='a b=c'\n");
    assert.equal((await t.ok('config:get', 'NOPE', '-a', 'shop')).out, '\n');
    const unset = await t.ok('config:unset', 'EMPTY', 'Q', '-a', 'shop');
    assert.equal(unset.err, 'Unsetting EMPTY and Q and restarting shop... done, v2\n');
    // what is not set is said, and alone it makes no release (the api is not asked to change anything)
    const patches = (): number => t.api.requests.filter((q) => q.method === 'PATCH').length;
    const before = patches();
    const none = await t.ok('config:unset', 'NOPE', 'Q', '-a', 'shop');
    assert.equal(none.err, 'NOPE and Q are not set on shop: no change, no release\n');
    const some = await t.ok('config:unset', 'NOPE', 'LANG', '-a', 'shop');
    assert.equal(some.err, 'NOPE is not set on shop\nUnsetting LANG and restarting shop... done, v3\n');
    const same = await t.ok('config:set', 'DATABASE_URL=postgres://db/x', '-a', 'shop');
    assert.equal(same.err, 'DATABASE_URL has this value on shop already: no change, no release\n');
    assert.equal(same.out, 'DATABASE_URL: postgres://db/x\n');
    assert.equal(patches(), before + 1);
    await t.ok('config:set', 'LANG=en_US.UTF-8', '-a', 'shop');
    assert.deepEqual(Object.keys(JSON.parse((await t.ok('config', '-a', 'shop', '--json')).out)).sort(), [
      'DATABASE_URL',
      'LANG',
    ]);
  });

  it('says what became of the release a change made: waiting for room, or failed (exit 1)', async () => {
    const { api } = t;
    api.deploy('shop', { web: 'npm start' });
    try {
      api.deployOutcome = { waiting: 'Waiting for room for 1 web (256 MiB): no node is up' };
      const waiting = await t.ok('config:set', 'A=1', '-a', 'shop');
      assert.match(
        waiting.err,
        /done, v\d+ \(deploying, waiting: Waiting for room for 1 web \(256 MiB\): no node is up\)\n$/,
      );
      api.deployOutcome = { failed: 'web.1 failed: GET / answered 500' };
      const failed = await t.cli(['config:unset', 'A', '-a', 'shop']);
      assert.equal(failed.code, 1);
      assert.match(failed.err, /\(failed: web\.1 failed: GET \/ answered 500\)\npaas: the deploy of v\d+ failed/);
      api.deployOutcome = 'deploying';
      const quick = await t.ok('config:set', 'B=2', '-a', 'shop', '--no-wait');
      assert.match(quick.err, /done, v\d+ \(deploying\)\n$/);
    } finally {
      api.deployOutcome = 'live';
    }
  });

  it('rejects bad config arguments before asking the api', async () => {
    const before = t.api.requests.length;
    for (const argv of [
      ['config:set', '-a', 'shop', 'NOEQUALS'],
      ['config:set', '-a', 'shop', '=value'],
      ['config:unset', '-a', 'shop', 'A=1'],
    ]) {
      const r = await t.cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^paas: invalid config var/);
    }
    assert.equal(t.api.requests.length, before);
    const invalid = await t.cli(['config:set', '-a', 'shop', '1BAD=x']);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.err, "paas: config key '1BAD' is not an environment variable name\n");
  });
});
