/** login, whoami and logout through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas login', () => {
  const t = platformCli();
  before(() => {
    t.api.addApp('shop');
    t.api.addApp('blog');
  });

  it('login checks the token before storing it; whoami and logout', async () => {
    const { api } = t;
    const loginEnv = { PAAS_API_URL: '', PAAS_API_TOKEN: '' };
    const refused = await t.cli(['login', '--api', api.url, '--token', 'paas_wrong'], loginEnv);
    assert.equal(refused.code, 1);
    assert.equal(refused.err, `paas: login to ${api.url} failed: the api refused the token (unauthorized)\n`);
    const path = join(t.base, 'home', '.config', 'paas', 'platform.json');
    assert.throws(() => statSync(path), { code: 'ENOENT' });

    const limited = api.addToken('ci', 'paas_ci000000000000000000000000000000000000', ['shop']);
    const r = await t.cli(
      ['login', '--api', `${api.url}/`, '--token', 'paas_ci000000000000000000000000000000000000'],
      loginEnv,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Logged in to ${api.url}\n`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      url: api.url,
      token: 'paas_ci000000000000000000000000000000000000',
    });

    const who = await t.cli(['whoami'], loginEnv);
    assert.equal(who.code, 0, who.err);
    assert.equal(who.out, `=== ${api.url}\nToken: paas_ci00… (from ${path})\nAdmin: no\nApps:  1\n`);
    const apps = await t.cli(['apps', '--json'], loginEnv);
    assert.deepEqual(
      (JSON.parse(apps.out) as { name: string }[]).map((a) => a.name),
      ['shop'],
    );
    const forbidden = await t.cli(['config', '-a', 'blog'], loginEnv);
    assert.equal(forbidden.code, 1);
    assert.equal(forbidden.err, "paas: this token may not manage 'blog'\n");
    assert.equal(limited.admin, false);

    assert.equal((await t.cli(['logout'], loginEnv)).out, `Logged out of ${api.url}\n`);
    assert.equal((await t.cli(['logout'], loginEnv)).out, 'Not logged in\n');
    const anonymous = await t.cli(['apps'], { ...loginEnv, PAAS_API_URL: api.url });
    assert.equal(anonymous.code, 1);
    assert.equal(
      anonymous.err,
      `paas: not logged in to the paas API at ${api.url}: run 'paas login --api ${api.url}' (or set PAAS_API_TOKEN)\n`,
    );
  });
});
