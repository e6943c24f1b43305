/**
 * releases, releases:info and rollback through the CLI's entry point against the fake api
 * (../testing/platform-cli.ts): the history of config changes and deploys, a rollback's new
 * release that deploys, and the refusals.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas releases', () => {
  const t = platformCli();
  before(async () => {
    t.api.addApp('shop');
    // no scheduler behind the fake: releases with an image stay deploying unless a test says
    t.api.deployOutcome = 'deploying';
    // v1 and v2: config changes, as config:set and config:unset make them; v3: a deploy
    await t.ok('config:set', '-a', 'shop', 'DATABASE_URL=postgres://db/x', 'LANG=en_US.UTF-8', 'EMPTY=', 'Q=a b=c');
    await t.ok('config:unset', 'EMPTY', 'Q', '-a', 'shop');
    t.api.deploy('shop', { web: 'npm start', worker: 'node worker.js' });
  });

  it('releases, releases:info and rollback', async () => {
    const { api } = t;
    const list = await t.ok('releases', '-a', 'shop');
    assert.equal(
      list.out,
      [
        '=== shop Releases - Current: v3',
        'v3  Deploy aaaaaaa (deploying)                    admin  just now',
        'v2  Remove EMPTY, Q config vars                   admin  just now',
        'v1  Set DATABASE_URL, LANG, EMPTY, Q config vars  admin  just now',
        '',
      ].join('\n'),
    );
    assert.equal((await t.ok('releases', '-a', 'shop', '-n', '1')).out.split('\n').length, 3);

    const info = await t.ok('releases:info', 'v1', '-a', 'shop');
    assert.match(info.out, /^=== Release v1\nBy: {6}admin\nChange: {2}Set DATABASE_URL/);
    assert.match(
      info.out,
      /\n=== v1 Config vars\nDATABASE_URL: postgres:\/\/db\/x\nEMPTY:\nLANG: {9}en_US\.UTF-8\nQ: {12}a b=c\n$/,
    );
    assert.match(
      (await t.ok('releases:info', '-a', 'shop')).out,
      /^=== Release v3\n[^]*Current: +yes\n[^]*Processes: web: npm start\n {11}worker: node worker\.js\n/,
    );
    assert.equal(JSON.parse((await t.ok('releases:info', '2', '-a', 'shop', '--json')).out).version, 2);

    const nothing = await t.cli(['rollback', '-a', 'shop']);
    assert.deepEqual(nothing, {
      code: 1,
      out: '',
      err: 'paas: shop has no deployed release before v3 to roll back to\n',
    });
    const imageless = await t.cli(['rollback', 'v2', '-a', 'shop']);
    assert.deepEqual(imageless, { code: 1, out: '', err: 'paas: v2 has no image to roll back to\n' });
    api.deploy('shop', { web: 'npm start', worker: 'node worker.js' }, 'c'.repeat(40));
    const back = await t.ok('rollback', '-a', 'shop', '--no-wait');
    assert.equal(back.err, 'Rolling back shop to v3... done, v5 (deploying)\n', 'it serves once it is up');
    assert.deepEqual(api.requests.at(-1)?.body, { release: 3 });
    const explicit = await t.ok('rollback', 'v4', '-a', 'shop', '--json', '--no-wait');
    assert.equal(explicit.err, 'Rolling back shop to v4... done, v6 (deploying)\n');
    assert.match((await t.ok('releases', '-a', 'shop')).out, /\nv5 {2}Rollback to v3 {2,}admin/, 'superseded: history');
    assert.equal(JSON.parse(explicit.out).description, 'Rollback to v4');
    const bad = await t.cli(['rollback', 'three', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.equal(bad.err, "paas: invalid release 'three': expected vN, e.g. v3\n");
    const none = await t.cli(['releases:info', 'v99', '-a', 'shop']);
    assert.equal(none.code, 1);
    assert.equal(none.err, "paas: release 'v99' not found\n");
  });

  it('rollback says what became of the new release: live, waiting for room, or failed (exit 1)', async () => {
    const { api } = t;
    try {
      api.deployOutcome = 'live';
      const live = await t.ok('rollback', 'v3', '-a', 'shop');
      assert.match(live.err, /^Rolling back shop to v3\.\.\. done, v\d+\n$/);
      api.deployOutcome = { waiting: 'Waiting for room for 1 web (512 MiB): no node has 512 MiB free' };
      const waiting = await t.ok('rollback', 'v3', '-a', 'shop');
      assert.match(
        waiting.err,
        /done, v\d+ \(deploying, waiting: Waiting for room for 1 web \(512 MiB\): no node has 512 MiB free\)\n$/,
      );
      api.deployOutcome = { failed: 'no room for 1 web (512 MiB): no node has 512 MiB free' };
      const failed = await t.cli(['rollback', 'v3', '-a', 'shop']);
      assert.equal(failed.code, 1);
      assert.match(
        failed.err,
        /^Rolling back shop to v3\.\.\. done, v(\d+) \(failed: no room for 1 web \(512 MiB\): no node has 512 MiB free\)\npaas: the deploy of v\1 failed; the previous release keeps serving\n$/,
      );
    } finally {
      api.deployOutcome = 'deploying';
    }
  });

  it("releases:output shows a release command's output, and says when a release ran none", async () => {
    const withRelease = t.api.deploy('shop', { web: 'npm start', release: 'node migrate.js' });
    const out = await t.ok('releases:output', `v${withRelease.version}`, '-a', 'shop');
    assert.equal(out.out, '-----> Running release command: node migrate.js\n       migrations ran\n');
    assert.equal((await t.ok('releases:output', '-a', 'shop')).out, out.out);
    const none = await t.ok('releases:output', 'v3', '-a', 'shop');
    assert.equal(none.out, '');
    assert.match(none.err, /^v3 ran no release command \(build #\d+'s Procfile has no release process\)\n$/);
    const config = await t.ok('releases:output', 'v1', '-a', 'shop');
    assert.match(config.err, /^v1 was not made by a build \(Set .* config vars\): it ran no release command\n$/);
    const missing = await t.cli(['releases:output', 'v99', '-a', 'shop']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /v99/);
    assert.equal((await t.cli(['releases:output', 'latest', '-a', 'shop'])).code, 2);
  });

  it('refuses a --num that is not a positive count before asking the api', async () => {
    const before = t.api.requests.length;
    for (const num of ['0', '-1', '1.5', 'abc', '']) {
      const r = await t.cli(['releases', '-a', 'shop', '-n', num]);
      assert.deepEqual(r, { code: 2, out: '', err: `paas: invalid --num '${num}': expected a positive number\n` });
    }
    assert.equal(t.api.requests.length, before);
  });
});
