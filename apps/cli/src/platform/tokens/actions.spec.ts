/** tokens, tokens:create and tokens:revoke through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas tokens', () => {
  const t = platformCli();

  it('tokens, tokens:create and tokens:revoke', async () => {
    const { api } = t;
    const created = await t.ok('tokens:create', 'deploy', '--apps', 'shop,blog');
    assert.match(created.out, /^paas_[A-Za-z0-9]{40}\n$/);
    assert.match(created.err, /^Created token deploy \([0-9a-f-]{36}\); it is shown only once:\n$/);
    assert.deepEqual(api.requests.at(-1)?.body, { name: 'deploy', apps: ['shop', 'blog'] });
    const list = await t.ok('tokens');
    assert.match(list.out, /^ID +NAME +PREFIX +KIND +APPS +CREATED +LAST USED\n/);
    assert.match(list.out, /\bdeploy +paas_\w{4} +apps +shop,blog +just now +never\n/);
    const node = await t.ok('tokens:create', 'node-1', '--node');
    assert.match(node.out, /^paas_[A-Za-z0-9]{40}\n$/);
    assert.deepEqual(api.requests.at(-1)?.body, { name: 'node-1', node: true });
    assert.match((await t.ok('tokens')).out, /\bnode-1 +paas_\w{4} +node +\(none\) +just now +never\n/);
    const mixed = await t.cli(['tokens:create', 'x', '--node', '--apps', 'shop']);
    assert.equal(mixed.code, 1);
    assert.match(mixed.err, /--node makes a token for an agent/);
    const id =
      (JSON.parse((await t.ok('tokens', '--json')).out) as { id: string; name: string }[]).find(
        (x) => x.name === 'deploy',
      )?.id ?? '';
    assert.equal((await t.ok('tokens:revoke', id)).err, `Revoking token ${id}... done (deploy)\n`);
  });
});
