/** builds, builds:info and builds:output through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas builds', () => {
  const t = platformCli();
  before(() => {
    t.api.addApp('shop');
    t.api.deploy('shop');
    t.api.deploy('shop', undefined, 'c'.repeat(40));
  });

  it('builds, builds:info and builds:output', async () => {
    const list = await t.ok('builds', '-a', 'shop');
    assert.match(
      list.out,
      /^=== shop Builds\nBUILD +STATUS +COMMIT +RELEASE +CREATED +ID\n#2 +succeeded +ccccccc +v2 +just now +[0-9a-f-]{36}\n#1 +succeeded +aaaaaaa +v1 +just now +[0-9a-f-]{36}\n$/,
    );
    const info = await t.ok('builds:info', '#1', '-a', 'shop');
    assert.match(info.out, /^=== Build #1 \(/);
    assert.match(info.out, /^Commit: +a{40} \(refs\/heads\/main\)$/m);
    assert.match(info.out, /^Status: +succeeded$/m);
    assert.equal(JSON.parse((await t.ok('builds:info', '-a', 'shop', '--json')).out).number, 2);
    assert.equal((await t.ok('builds', '-a', 'shop', '-n', '1')).out.split('\n').length, 4);
    assert.equal(
      (await t.ok('builds:output', '1', '-a', 'shop')).out,
      '-----> Building\nStep 1/2 : FROM node:20\n-----> Done\n',
    );
    const nope = await t.cli(['builds:info', '#9', '-a', 'shop']);
    assert.equal(nope.code, 1);
    assert.equal(nope.err, 'paas: build #9 not found on shop\n');
  });

  it('refuses a --num that is not a positive count before asking the api', async () => {
    const before = t.api.requests.length;
    for (const num of ['0', '-1', '1.5', 'abc', '']) {
      const r = await t.cli(['builds', '-a', 'shop', '-n', num]);
      assert.deepEqual(r, { code: 2, out: '', err: `paas: invalid --num '${num}': expected a positive number\n` });
    }
    assert.equal(t.api.requests.length, before);
  });
});
