import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePlatformCa } from '@paas/platform';
import { localApiUrl, loginPath, normalizeUrl, readLogin, removeLogin, resolveTarget, saveLogin } from './target';

describe('the API the platform verbs talk to', () => {
  let base = '';
  let env: Record<string, string> = {};

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'paas-cli-target-'));
    env = { HOME: join(base, 'home'), PAAS_ROOT: join(base, 'root'), PAAS_API_ADDR: '127.0.0.1:7123' };
  });

  after(() => rmSync(base, { recursive: true, force: true }));

  it('defaults to the local api, without a token when there is no admin token', async () => {
    assert.equal(localApiUrl({}), 'http://127.0.0.1:7000');
    assert.equal(localApiUrl({ PAAS_API_ADDR: ':7001' }), 'https://127.0.0.1:7001', 'all interfaces: TLS');
    assert.equal(localApiUrl({ PAAS_API_ADDR: '[::1]:7002' }), 'http://[::1]:7002');
    assert.deepEqual(await resolveTarget(env), {
      url: 'http://127.0.0.1:7123',
      token: undefined,
      source: 'none',
      from: '',
      ca: null,
    });
  });

  it("uses the local admin's token when it is readable", async () => {
    mkdirSync(join(base, 'root', 'platform'), { recursive: true });
    writeFileSync(join(base, 'root', 'platform', 'admin.token'), 'paas_admin\n', { mode: 0o600 });
    const target = await resolveTarget(env);
    assert.equal(target.token, 'paas_admin');
    assert.equal(target.source, 'admin');
    // ...but never sends it to an api elsewhere.
    assert.equal((await resolveTarget({ ...env, PAAS_API_URL: 'https://paas.example.com' })).token, undefined);
  });

  it('stores a login 0600, atomically, and prefers it', async () => {
    const path = await saveLogin(env, { url: 'http://127.0.0.1:9999', token: 'paas_login' });
    assert.equal(path, join(base, 'home', '.config', 'paas', 'platform.json'));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(base, 'home', '.config', 'paas')), ['platform.json']);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { url: 'http://127.0.0.1:9999', token: 'paas_login' });
    assert.deepEqual(await resolveTarget(env), {
      url: 'http://127.0.0.1:9999',
      token: 'paas_login',
      source: 'login',
      from: path,
      ca: null,
    });
    await saveLogin(env, { url: 'http://127.0.0.1:9999', token: 'paas_again' });
    assert.equal((await readLogin(env))?.token, 'paas_again');
    assert.equal(loginPath({ ...env, XDG_CONFIG_HOME: '/x' }), '/x/paas/platform.json');
  });

  it('lets the environment override the URL and the token', async () => {
    assert.deepEqual(await resolveTarget({ ...env, PAAS_API_TOKEN: 'paas_env' }), {
      url: 'http://127.0.0.1:9999',
      token: 'paas_env',
      source: 'env',
      from: '$PAAS_API_TOKEN',
      ca: null,
    });
    // Another URL than the login's: the login's token is not sent there.
    const other = await resolveTarget({ ...env, PAAS_API_URL: 'http://127.0.0.1:7123/' });
    assert.equal(other.url, 'http://127.0.0.1:7123');
    assert.equal(other.source, 'admin');
  });

  it('trusts the platform CA (PAAS_CA_FILE, else the one under PAAS_ROOT) for an https api only', async () => {
    const tls = join(base, 'root', 'platform', 'tls');
    mkdirSync(tls, { recursive: true });
    const ca = await ensurePlatformCa(tls);
    const https = await resolveTarget({ ...env, PAAS_API_URL: 'https://10.0.0.1:7000' });
    assert.deepEqual(https.ca, { file: ca.certFile, pem: ca.cert });
    assert.equal((await resolveTarget({ ...env, PAAS_API_URL: 'http://127.0.0.1:7123' })).ca, null);
    await assert.rejects(
      resolveTarget({ ...env, PAAS_API_URL: 'https://10.0.0.1:7000', PAAS_CA_FILE: join(base, 'nope.crt') }),
      /PAAS_CA_FILE=".*nope\.crt": cannot read: ENOENT/,
    );
    rmSync(tls, { recursive: true });
  });

  it("sends the local admin's token to this machine's own api off loopback, over TLS with the CA only", async () => {
    // (a HOME without the login stored above)
    const here = { ...env, HOME: join(base, 'elsewhere'), PAAS_API_ADDR: '10.0.0.1:7000' };
    // no CA to check the api's certificate against: not sent
    assert.equal((await resolveTarget(here)).source, 'none');
    const tls = join(base, 'root', 'platform', 'tls');
    mkdirSync(tls, { recursive: true });
    await ensurePlatformCa(tls);
    try {
      const target = await resolveTarget(here);
      assert.deepEqual([target.url, target.source, target.token], ['https://10.0.0.1:7000', 'admin', 'paas_admin']);
      // another machine's api, also https with the same CA: not sent
      assert.equal((await resolveTarget({ ...here, PAAS_API_URL: 'https://10.0.0.2:7000' })).source, 'none');
    } finally {
      rmSync(tls, { recursive: true });
    }
  });

  it('forgets the login', async () => {
    assert.equal((await removeLogin(env))?.url, 'http://127.0.0.1:9999');
    assert.equal(await removeLogin(env), undefined);
    assert.equal((await resolveTarget(env)).source, 'admin');
  });

  it('normalizes API URLs and rejects what is not one', () => {
    assert.equal(normalizeUrl('127.0.0.1:7000', '--api'), 'http://127.0.0.1:7000');
    assert.equal(normalizeUrl('https://paas.example.com/', '--api'), 'https://paas.example.com');
    assert.equal(normalizeUrl('https://example.com/paas/', '--api'), 'https://example.com/paas');
    assert.throws(() => normalizeUrl('ftp://x', '--api'), /--api: not an http\(s\) URL/);
    assert.throws(() => normalizeUrl('http://x/?a=1', '--api'), /no query/);
  });
});
