/** drains, drains:add and drains:remove through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas drains', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('drains:add, drains (delivering, then failing with the last error), drains:remove by URL and by id', async () => {
    assert.equal((await t.ok('drains', '-a', 'shop')).err, 'shop has no log drains\n');
    const added = await t.ok('drains:add', 'https://user:secret@logs.example.com/d', '-a', 'shop');
    assert.equal(added.err, 'Adding a log drain to shop... done\n');
    assert.match(added.out, /^https:\/\/user:\*\*\*@logs\.example\.com\/d \(d\.[0-9a-f-]{36}\)\n$/);
    await t.ok('drains:add', 'syslog+tls://logs.example.com:6514', '-a', 'shop');
    t.api.setDrain('shop', 'syslog+tls://logs.example.com:6514', {
      state: 'failing',
      failingSince: new Date(Date.now() - 5 * 60_000).toISOString(),
      lastError: 'connect ECONNREFUSED 203.0.113.7:6514',
      delivered: 1200,
      dropped: 70,
    });
    const list = (await t.ok('drains', '-a', 'shop')).out;
    const [head, columnsLine, first, second, blank, error] = list.split('\n');
    assert.equal(head, '=== shop Drains');
    assert.match(columnsLine ?? '', /^ID {36}URL {34}State {17}Delivered {2}Dropped$/);
    assert.match(
      first ?? '',
      /^[0-9a-f-]{36} {2}https:\/\/user:\*\*\*@logs\.example\.com\/d {2}delivering {12}0 {10}0$/,
    );
    assert.match(
      second ?? '',
      /^[0-9a-f-]{36} {2}syslog\+tls:\/\/logs\.example\.com:6514 {3}failing since 5m ago {2}1200 {7}70$/,
    );
    assert.equal(blank, '');
    assert.equal(error, 'syslog+tls://logs.example.com:6514: connect ECONNREFUSED 203.0.113.7:6514');
    assert.ok(!list.includes('secret'));
    const removed = await t.ok('drains:remove', 'syslog+tls://logs.example.com:6514', '-a', 'shop');
    assert.equal(removed.err, 'Removing a log drain from shop... done\n');
    assert.equal(removed.out, 'syslog+tls://logs.example.com:6514 removed\n');
    const [left] = JSON.parse((await t.ok('drains', '-a', 'shop', '--json')).out) as { id: string }[];
    assert.ok(left);
    await t.ok('drains:remove', left.id, '-a', 'shop');
    assert.deepEqual(JSON.parse((await t.ok('drains', '-a', 'shop', '--json')).out), []);
    const missing = await t.cli(['drains:remove', 'syslog://nowhere.example.com:1', '-a', 'shop']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /drain 'syslog:\/\/nowhere\.example\.com:1' of app 'shop' not found/);
  });
});
