/** domains, domains:add and domains:remove through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas domains', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('domains, domains:add and domains:remove', async () => {
    assert.equal((await t.ok('domains', '-a', 'shop')).out, '=== shop Default Domain\nshop.localhost:8080\n');
    assert.equal(
      (await t.ok('domains:add', 'www.shop.example', '-a', 'shop')).err,
      'Adding www.shop.example to shop... done\n',
    );
    assert.match(
      (await t.ok('domains', '-a', 'shop')).out,
      /\n\n=== shop Custom Domains\nDomain Name {7}Added\nwww\.shop\.example {2}just now\n$/,
    );
    const taken = await t.cli(['domains:add', 'www.shop.example', '-a', 'shop']);
    assert.equal(taken.code, 1);
    assert.equal(taken.err, 'paas: www.shop.example is taken\n');
    assert.equal(
      (await t.ok('domains:remove', 'www.shop.example', '-a', 'shop')).err,
      'Removing www.shop.example from shop... done\n',
    );
    assert.deepEqual(JSON.parse((await t.ok('domains', '-a', 'shop', '--json')).out), []);
  });

  it('domains:clear removes every custom domain and keeps the default one', async () => {
    assert.equal((await t.ok('domains:clear', '-a', 'shop')).err, 'shop has no custom domains: nothing to remove\n');
    await t.ok('domains:add', 'a.shop.example', '-a', 'shop');
    await t.ok('domains:add', 'b.shop.example', '-a', 'shop');
    assert.equal((await t.ok('domains:clear', '-a', 'shop')).err, 'Removing all 2 custom domains from shop... done\n');
    assert.deepEqual(JSON.parse((await t.ok('domains', '-a', 'shop', '--json')).out), []);
    assert.match((await t.ok('domains', '-a', 'shop')).out, /^=== shop Default Domain\nshop\.localhost:8080\n$/);
  });
});
