/**
 * addons, addons:create, addons:info, addons:attach, addons:detach, addons:destroy, pg:psql and
 * redis:cli through the CLI's entry point against the fake api (../testing/platform-cli.ts):
 * output, --json, the requests they make, and bad input (the api's refusals, a missing app,
 * a wrong confirmation, a client verb without its command).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Addon as AddonView } from '@paas/api-types';
import { platformCli } from '../testing/platform-cli';

const PG = 'postgres-amber-12345';
const NO_APP = 'paas: no app specified: use -a APP or run inside a repo with a "paas" git remote\n';

describe('paas addons', () => {
  const t = platformCli();
  before(() => {
    for (const app of ['shop', 'blog', 'other']) t.api.addApp(app);
  });
  const config = async (app: string): Promise<Record<string, string>> =>
    JSON.parse((await t.ok('config', '-a', app, '--json')).out) as Record<string, string>;
  const lastBody = (): unknown => t.api.requests.at(-1)?.body;

  it('addons:create prints the add-on and its config var, passes --name, --as and --size, and --json', async () => {
    const r = await t.ok('addons:create', 'postgres', '-a', 'shop');
    assert.equal(r.err, `Creating ${PG} on shop... done\n`);
    assert.equal(r.out, `Created ${PG} as DATABASE_URL\n`);
    assert.deepEqual(lastBody(), { type: 'postgres' });
    assert.match((await config('shop'))['DATABASE_URL'] ?? '', /^postgres:\/\//);

    t.api.newAddonState = { state: 'creating', error: null };
    const named = await t.ok(
      'addons:create',
      'redis',
      '-a',
      'shop',
      '--name',
      'cache',
      '--as',
      'session',
      '--size',
      'standard-1x',
    );
    t.api.newAddonState = { state: 'up', error: null };
    assert.deepEqual(lastBody(), { type: 'redis', name: 'cache', as: 'session', size: 'standard-1x' });
    assert.equal(named.out, 'Created cache as SESSION_URL\n');
    assert.equal(
      named.err,
      'Creating cache on shop... done\ncache is creating: paas addons:info cache shows when it is up\n',
    );

    const asJson = await t.ok('addons:create', 'redis', '-a', 'blog', '--json');
    const view = JSON.parse(asJson.out) as AddonView;
    assert.equal(view.name, 'redis-rugged-12347');
    assert.deepEqual(view.attachments, [{ app: 'blog', name: 'REDIS', var: 'REDIS_URL' }]);
    assert.equal(asJson.err, 'Creating redis-rugged-12347 on blog... done\n');
  });

  it('addons:create: the api’s refusals as they come, a missing app or type before any request', async () => {
    const unknown = await t.cli(['addons:create', 'mysql', '-a', 'shop']);
    assert.deepEqual(unknown, {
      code: 1,
      out: '',
      err: 'paas: type must be one of the add-on types: postgres, redis\n',
    });
    const taken = await t.cli(['addons:create', 'redis', '-a', 'other', '--name', 'cache']);
    assert.deepEqual(taken, { code: 1, out: '', err: "paas: add-on 'cache' already exists\n" });
    const varSet = await t.cli(['addons:create', 'postgres', '-a', 'shop']);
    assert.equal(varSet.err, 'paas: DATABASE_URL is already set on shop: pass --as NAME to use NAME_URL\n');
    assert.equal(varSet.code, 1);

    const sent = t.api.requests.length;
    assert.deepEqual(await t.cli(['addons:create', 'postgres']), { code: 1, out: '', err: NO_APP });
    const noType = await t.cli(['addons:create', '-a', 'shop']);
    assert.equal(noType.code, 2);
    assert.match(noType.err, /missing required argument 'TYPE'/);
    assert.equal(t.api.requests.length, sent);
  });

  it('addons lists an app’s add-ons, or without an app every one the token sees; --json', async () => {
    assert.equal(
      (await t.ok('addons', '-a', 'shop')).out,
      [
        '=== shop Add-ons',
        'Name                  Type      State     Attached As',
        `${PG}  postgres  up        shop as DATABASE_URL`,
        'cache                 redis     creating  shop as SESSION_URL',
        '',
      ].join('\n'),
    );
    const list = JSON.parse((await t.ok('addons', '-a', 'shop', '--json')).out) as AddonView[];
    assert.deepEqual(
      list.map((a) => a.name),
      [PG, 'cache'],
    );
    assert.equal(
      (await t.ok('addons', '-a', 'other')).out,
      'other has no add-ons: paas addons:create postgres -a other creates one.\n',
    );

    const all = (await t.ok('addons')).out;
    assert.match(all, /^=== Add-ons\n/);
    assert.match(all, /^redis-rugged-12347 +redis +up +blog as REDIS_URL$/m);
    assert.equal(all.split('\n').length, 6);
    // in a repo, the app of its paas remote
    t.git(t.repo, 'remote', 'add', 'paas', `${t.api.url}/git/blog.git`);
    try {
      assert.match((await t.inRepo(() => t.ok('addons'))).out, /^=== blog Add-ons\nName/);
    } finally {
      t.git(t.repo, 'remote', 'remove', 'paas');
    }
    assert.deepEqual(await t.cli(['addons', '-r', 'staging']), {
      code: 1,
      out: '',
      err: NO_APP.replace('"paas"', '"staging"'),
    });
    // an api without the list of every add-on: an app is needed
    t.api.addonsIndex = false;
    try {
      assert.deepEqual(await t.cli(['addons']), { code: 1, out: '', err: NO_APP });
    } finally {
      t.api.addonsIndex = true;
    }
  });

  it('addons:info shows one add-on, --json its view; an unknown one is the api’s 404', async () => {
    t.api.addons.set('cache', {
      ...(t.api.addons.get('cache') as AddonView),
      state: 'crashed',
      error: 'exited with 1',
    });
    assert.match(
      (await t.ok('addons:info', 'cache')).out,
      /^=== cache\nType: {8}redis\nState: {7}crashed\nError: {7}exited with 1\nAttachments: shop as SESSION_URL\nNode: {8}node-1\nSize: {8}standard-1x\nCreated: {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(just now\)\n$/,
    );
    t.api.addons.set('cache', { ...(t.api.addons.get('cache') as AddonView), state: 'up', error: null });
    assert.deepEqual(JSON.parse((await t.ok('addons:info', 'cache', '--json')).out), t.api.addons.get('cache'));
    assert.deepEqual(await t.cli(['addons:info', 'nope']), {
      code: 1,
      out: '',
      err: "paas: add-on 'nope' not found\n",
    });
  });

  it('addons:attach and addons:detach set and unset the other app’s config var', async () => {
    const attached = await t.ok('addons:attach', PG, '-a', 'blog');
    assert.deepEqual(lastBody(), { app: 'blog' });
    assert.equal(attached.err, `Attaching ${PG} to blog... done\n`);
    assert.equal(attached.out, `Attached ${PG} to blog as DATABASE_URL\n`);
    assert.ok('DATABASE_URL' in (await config('blog')));

    const again = await t.cli(['addons:attach', PG, '-a', 'blog']);
    assert.equal(again.code, 1);
    assert.equal(again.err, 'paas: DATABASE_URL is already set on blog: pass --as NAME to use NAME_URL\n');
    const as = JSON.parse(
      (await t.ok('addons:attach', PG, '-a', 'blog', '--as', 'reports', '--json')).out,
    ) as AddonView;
    assert.deepEqual(as.attachments.at(-1), { app: 'blog', name: 'REPORTS', var: 'REPORTS_URL' });
    assert.equal(
      (await t.ok('addons:attach', PG, '-a', 'other', '--as', 'main')).out,
      `Attached ${PG} to other as MAIN_URL\n`,
    );

    const detached = await t.ok('addons:detach', PG, '-a', 'blog');
    assert.equal(detached.err, `Detaching ${PG} from blog... done\n`);
    assert.equal(detached.out, '');
    const blog = await config('blog');
    assert.ok(!('DATABASE_URL' in blog) && !('REPORTS_URL' in blog), JSON.stringify(blog));
    assert.deepEqual(await t.cli(['addons:detach', PG, '-a', 'blog']), {
      code: 1,
      out: '',
      err: `paas: add-on '${PG}' is not attached to 'blog'\n`,
    });
    assert.deepEqual(await t.cli(['addons:detach', PG]), { code: 1, out: '', err: NO_APP });
  });

  it('pg:psql runs psql -c in a one-off in the add-on’s image (its environment names the add-on; no password in argv)', async () => {
    const noSql = await t.cli(['pg:psql', '-a', 'shop']);
    assert.equal(noSql.code, 2);
    assert.equal(
      noSql.err,
      "paas: pg:psql without -c is interactive and needs a terminal; without one, pass the SQL (paas pg:psql -a APP -c 'SELECT 1')\n",
    );

    const r = await t.ok('pg:psql', '-a', 'shop', '-c', 'SELECT 1');
    assert.deepEqual(lastBody(), { command: `psql -c 'SELECT 1'`, addon: PG });
    assert.equal(r.out, `running in ${PG}: psql -c 'SELECT 1'\nhéllo wörld\n`);
    // named, several -c, quoting, and the remote exit status (the fake exits with what `exit N` says)
    const failed = await t.cli(['pg:psql', PG, '-a', 'other', '-c', "select 'exit 3'", '-c', 'select 2']);
    assert.equal(failed.code, 3);
    assert.deepEqual(lastBody(), { command: `psql -c 'select '\\''exit 3'\\''' -c 'select 2'`, addon: PG });

    const refused = async (argv: string[], err: string): Promise<void> =>
      assert.deepEqual(await t.cli(argv), { code: 1, out: '', err });
    await refused(
      ['pg:psql', 'cache', '-a', 'shop', '-c', 'x'],
      'paas: cache is a redis add-on: pg:psql is for postgres\n',
    );
    await refused(
      ['pg:psql', PG, '-a', 'blog', '-c', 'x'],
      `paas: ${PG} is not attached to blog: paas addons:attach ${PG} -a blog attaches it\n`,
    );
    await refused(['pg:psql', 'nope', '-a', 'shop', '-c', 'x'], "paas: add-on 'nope' not found\n");
    await refused(
      ['pg:psql', '-a', 'blog', '-c', 'x'],
      'paas: blog has no postgres add-on: paas addons:create postgres -a blog creates one\n',
    );
    await t.ok('addons:create', 'postgres', '-a', 'shop', '--name', 'analytics', '--as', 'analytics');
    await refused(
      ['pg:psql', '-a', 'shop', '-c', 'x'],
      `paas: shop has 2 postgres add-ons (${PG} and analytics): name one, as in paas pg:psql ${PG} -a shop\n`,
    );
    await t.ok('pg:psql', 'analytics', '-a', 'shop', '-c', 'x');
    assert.deepEqual(lastBody(), { command: `psql -c x`, addon: 'analytics' });
  });

  it('redis:cli runs redis-cli at the add-on (its address and REDISCLI_AUTH in the run’s environment) with the arguments; the first names the add-on if it is one', async () => {
    const cli = (...args: string[]): string =>
      `redis-cli -h "$PAAS_ADDON_HOST" -p "$PAAS_ADDON_PORT" ${args.join(' ')}`;
    const r = await t.ok('redis:cli', '-a', 'shop', 'SET', 'k', 'a b');
    assert.deepEqual(lastBody(), { command: cli('SET', 'k', "'a b'"), addon: 'cache' });
    assert.equal(r.out, `running in cache: ${cli('SET', 'k', "'a b'")}\nhéllo wörld\n`);
    await t.ok('redis:cli', 'cache', '-a', 'shop', 'PING');
    assert.deepEqual(lastBody(), { command: cli('PING'), addon: 'cache' });
    await t.ok('redis:cli', '-a', 'shop', '--', '-n', '2', 'GET', 'k');
    assert.deepEqual(lastBody(), { command: cli('-n', '2', 'GET', 'k'), addon: 'cache' });

    const usage =
      'paas: redis:cli without a command is interactive and needs a terminal; without one, pass the command (paas redis:cli -a APP PING)\n';
    assert.deepEqual(await t.cli(['redis:cli', '-a', 'shop']), { code: 2, out: '', err: usage });
    assert.deepEqual(await t.cli(['redis:cli', 'cache', '-a', 'shop']), { code: 2, out: '', err: usage });
    assert.deepEqual(await t.cli(['redis:cli', PG, '-a', 'shop', 'PING']), {
      code: 1,
      out: '',
      err: `paas: ${PG} is a postgres add-on: redis:cli is for redis\n`,
    });
  });

  it('addons:destroy wants the name again (--confirm off a terminal), then destroys it', async () => {
    const sent = t.api.requests.length;
    assert.deepEqual(await t.cli(['addons:destroy', 'cache']), {
      code: 1,
      out: '',
      err: 'paas: this would destroy cache and its data: re-run with --confirm cache\n',
    });
    assert.deepEqual(await t.cli(['addons:destroy', 'cache', '--confirm', 'shop']), {
      code: 1,
      out: '',
      err: "paas: confirmation 'shop' did not match cache; nothing was destroyed\n",
    });
    assert.equal(t.api.requests.length, sent);
    assert.ok(t.api.addons.has('cache'));

    const done = await t.ok('addons:destroy', 'cache', '--confirm', 'cache');
    assert.equal(done.err, 'Destroying cache... done\n');
    assert.deepEqual(
      { method: t.api.requests.at(-1)?.method, path: t.api.requests.at(-1)?.path },
      { method: 'DELETE', path: '/api/addons/cache?confirm=cache' },
    );
    assert.ok(!t.api.addons.has('cache'));
    assert.ok(!('SESSION_URL' in (await config('shop'))));
    assert.deepEqual(await t.cli(['addons:destroy', 'cache', '--confirm', 'cache']), {
      code: 1,
      out: '',
      err: "paas: add-on 'cache' not found\n",
    });
  });
});
