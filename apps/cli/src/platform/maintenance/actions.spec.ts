/**
 * maintenance, maintenance:on and maintenance:off through the CLI's entry point against the
 * fake api (../testing/platform-cli.ts), with apps:info and apps --json showing the mode.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas maintenance', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('turns on and off, says when it already was, and shows in apps:info and apps --json', async () => {
    assert.equal((await t.ok('maintenance', '-a', 'shop')).out, 'off\n');
    const on = await t.ok('maintenance:on', '-a', 'shop');
    assert.deepEqual([on.out, on.err], ['', 'Enabling maintenance mode for shop... done\n']);
    assert.equal((await t.ok('maintenance', '-a', 'shop')).out, 'on\n');
    assert.deepEqual(JSON.parse((await t.ok('maintenance', '-a', 'shop', '--json')).out), { maintenance: true });
    const again = await t.ok('maintenance:on', '-a', 'shop');
    assert.equal(again.err, 'Enabling maintenance mode for shop... it is on already, nothing changed\n');
    assert.match((await t.ok('apps:info', '-a', 'shop')).out, /^Maintenance: +on \(the routers answer 503\)$/m);
    const list = JSON.parse((await t.ok('apps', '--json')).out) as { name: string; maintenance: boolean }[];
    assert.deepEqual(
      list.map((a) => [a.name, a.maintenance]),
      [['shop', true]],
    );
    const off = await t.ok('maintenance:off', '-a', 'shop', '--json');
    assert.equal(off.err, 'Disabling maintenance mode for shop... done\n');
    assert.deepEqual(JSON.parse(off.out), { maintenance: false, changed: true });
    assert.match((await t.ok('apps:info', '-a', 'shop')).out, /^Maintenance: +off$/m);
    const patches = t.api.requests.filter((q) => q.method === 'PATCH').map((q) => [q.path, q.body]);
    assert.deepEqual(patches, [
      ['/api/apps/shop/maintenance', { maintenance: true }],
      ['/api/apps/shop/maintenance', { maintenance: true }],
      ['/api/apps/shop/maintenance', { maintenance: false }],
    ]);
  });

  it('names an unknown app', async () => {
    const missing = await t.cli(['maintenance:on', '-a', 'nope']);
    assert.deepEqual(missing, { code: 1, out: '', err: "paas: app 'nope' not found\n" });
  });
});
