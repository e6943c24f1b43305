/**
 * `paas certs`, `certs:add`, `certs:info`, `certs:remove` end to end: the built bin/paas against
 * the real api (in this process, its own PAAS_ROOT, a private redis-server and SQLite), with
 * certificates of a test PKI the api is told to trust (PAAS_CERTS_TRUSTED_CA_FILE).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalRedis, type TestPki, makeTestPki, startLocalRedis } from '@paas/platform/testing';
import { type PlatformApi, callApi, readAdminToken, startLocalApi } from '../platform/support/api';
import { type Result, paasAsync, tempRoots } from '../support/cli';

describe('paas certs against the real api', () => {
  const roots = tempRoots();
  const base = join(roots.root, '..');
  const files = join(base, 'files');
  let redis: LocalRedis | undefined;
  let api: PlatformApi | undefined;
  let pki: TestPki;
  let env: NodeJS.ProcessEnv = {};
  let key = '';

  const run = (...args: string[]): Promise<Result> => paasAsync(args, env);
  const ok = async (...args: string[]): Promise<Result> => {
    const r = await run(...args);
    assert.equal(r.status, 0, `paas ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const post = async (path: string, body: unknown): Promise<void> => {
    await callApi(api?.url ?? '', readAdminToken(roots.root), 'POST', path, body);
  };

  before(async () => {
    mkdirSync(files, { recursive: true });
    pki = await makeTestPki();
    writeFileSync(join(files, 'roots.pem'), pki.root.cert);
    redis = await startLocalRedis(join(base, 'redis'));
    api = await startLocalApi(base, redis.url, {
      ...roots.env,
      PAAS_CERTS_TRUSTED_CA_FILE: join(files, 'roots.pem'),
    });
    env = {
      PATH: process.env['PATH'],
      HOME: join(base, 'home'),
      PAAS_ROOT: roots.root,
      PAAS_RUN: roots.run,
      PAAS_API_URL: api.url,
    };
    await post('/api/apps', { name: 'shop' });
    await post('/api/apps/shop/domains', { hostname: 'www.shop.test' });
    const leaf = await pki.leaf(['www.shop.test']);
    key = leaf.key;
    writeFileSync(join(files, 'chain.pem'), pki.chain(leaf));
    writeFileSync(join(files, 'leaf.pem'), leaf.cert);
    writeFileSync(join(files, 'key.pem'), leaf.key, { mode: 0o600 });
  });

  after(async () => {
    await api?.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    roots.cleanup();
  });

  it('certs:add uploads a chain and its key, certs lists it, certs:info shows it; no key is printed', async () => {
    assert.equal(
      (await ok('certs', '-a', 'shop')).stdout,
      'shop has no certificates: paas certs:add CERT_FILE KEY_FILE adds one.\n',
    );
    const added = await ok('certs:add', join(files, 'chain.pem'), join(files, 'key.pem'), '-a', 'shop');
    assert.equal(added.stderr, 'Adding certificate to shop... done\n');
    const id = /^=== (\S+)\n/.exec(added.stdout)?.[1] ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.match(
      added.stdout,
      /\nNames: +www\.shop\.test\nDomains: +www\.shop\.test\nIssuer: +CN=paas test intermediate\n/,
    );
    assert.match(added.stdout, /\nSource: +manual\nFingerprint: +[0-9A-F:]{95}\n$/);
    const list = await ok('certs', '-a', 'shop');
    assert.match(
      list.stdout,
      new RegExp(
        `^=== shop Certificates\\nID +Domains +Expires +Source\\n${id} +www\\.shop\\.test +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC +manual\\n$`,
      ),
    );
    const json = JSON.parse((await ok('certs', '-a', 'shop', '--json')).stdout) as { id: string; serving: string[] }[];
    assert.deepEqual(
      json.map((c) => [c.id, c.serving]),
      [[id, ['www.shop.test']]],
    );
    assert.match(
      (await ok('certs:info', id, '-a', 'shop')).stdout,
      new RegExp(`^=== ${id}\\nNames: +www\\.shop\\.test\\n`),
    );
    for (const r of [added, list]) {
      assert.ok(!r.stdout.includes('PRIVATE KEY') && !r.stderr.includes('PRIVATE KEY'));
      assert.ok(!r.stdout.includes(key.split('\n')[1] ?? 'x'));
    }
  });

  it('says clearly what is wrong: unreadable files, refusals by the api, an unconfirmed remove', async () => {
    const missing = await run('certs:add', join(files, 'nope.pem'), join(files, 'key.pem'), '-a', 'shop');
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, `paas: cannot read the certificate file ${join(files, 'nope.pem')}: ENOENT\n`);
    const incomplete = await run('certs:add', join(files, 'leaf.pem'), join(files, 'key.pem'), '-a', 'shop');
    assert.equal(incomplete.status, 1);
    assert.match(
      incomplete.stderr,
      /^paas: cert: the chain is incomplete: certificate 1 \(CN=www\.shop\.test\) is issued by CN=paas test intermediate/,
    );
    assert.equal(incomplete.stderr.split('\n').filter(Boolean).length, 1, incomplete.stderr);
    const swapped = await run('certs:add', join(files, 'key.pem'), join(files, 'chain.pem'), '-a', 'shop');
    assert.equal(swapped.status, 1);
    assert.match(swapped.stderr, /paas: cert: holds a private key: the key goes in the key field/);
    assert.ok(!swapped.stderr.includes(key.split('\n')[1] ?? 'x'), 'the key is not echoed');
    const id = (JSON.parse((await ok('certs', '-a', 'shop', '--json')).stdout) as { id: string }[])[0]?.id ?? '';
    const unconfirmed = await run('certs:remove', id, '-a', 'shop');
    assert.equal(unconfirmed.status, 1);
    assert.equal(unconfirmed.stderr, `paas: this would remove certificate ${id} of shop: re-run with --confirm shop\n`);
    const wrong = await run('certs:remove', id, '-a', 'shop', '--confirm', 'blog');
    assert.equal(wrong.stderr, "paas: confirmation 'blog' did not match shop; nothing was removed\n");
    const unknown = await run('certs:info', '00000000-0000-4000-8000-000000000000', '-a', 'shop');
    assert.equal(unknown.status, 1);
    assert.match(
      unknown.stderr,
      /^paas: certificate '00000000-0000-4000-8000-000000000000' of app 'shop' not found\n$/,
    );
    assert.equal(
      (await ok('certs:remove', id, '-a', 'shop', '--confirm', 'shop')).stderr,
      `Removing certificate ${id} from shop... done\n`,
    );
    assert.deepEqual(JSON.parse((await ok('certs', '-a', 'shop', '--json')).stdout) as unknown[], []);
  });

  it('https shows the redirect and HSTS, off by default; https:redirect and https:hsts change them', async () => {
    assert.equal((await ok('https', '-a', 'shop')).stdout, '=== shop HTTPS\nRedirect: off\nHSTS:     off\n');
    const redirect = await ok('https:redirect', 'on', '-a', 'shop');
    assert.equal(redirect.stderr, 'Enabling the HTTPS redirect of shop... done\n');
    assert.match(redirect.stdout, /\nRedirect: on \(plain HTTP answers 308 to https:\/\/\)\nHSTS: +off\n$/);
    assert.match((await ok('https:hsts', 'on', '-a', 'shop')).stdout, /\nHSTS: +on \(max-age=31536000\)\n$/);
    assert.deepEqual(JSON.parse((await ok('https:hsts', 'on', '--max-age', '600', '-a', 'shop', '--json')).stdout), {
      httpsRedirect: true,
      hstsMaxAge: 600,
    });
    const bad = await run('https:redirect', 'maybe', '-a', 'shop');
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'paas: https:redirect "maybe": expected on or off\n');
    const tooLong = await run('https:hsts', 'on', '--max-age', '999999999', '-a', 'shop');
    assert.equal(tooLong.status, 1);
    assert.match(tooLong.stderr, /^paas: .*hstsMaxAge/);
    await ok('https:hsts', 'off', '-a', 'shop');
    await ok('https:redirect', 'off', '-a', 'shop');
    assert.equal((await ok('https', '-a', 'shop')).stdout, '=== shop HTTPS\nRedirect: off\nHSTS:     off\n');
  });
});
