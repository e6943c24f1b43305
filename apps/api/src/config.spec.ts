import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, platformTlsDirectory } from '@paas/config';
import { ensurePlatformCa } from '@paas/platform';
import { loadApiConfig } from './config';

describe('api settings', () => {
  it("walls the control plane's addresses off from this node's builds and one-off runs", () => {
    const config = loadApiConfig({
      DATABASE_URL: 'postgres://paas:secret@10.0.0.5:5432/paas',
      REDIS_URL: 'redis://10.0.0.6:6379',
      PAAS_REGISTRY_ADDR: '10.0.0.7:5000',
      PAAS_PROTECTED_CIDRS: '10.9.0.0/16',
    });
    assert.deepEqual(config.engine.bridge.protectedCidrs, ['10.9.0.0/16', '10.0.0.5/32', '10.0.0.6/32', '10.0.0.7/32']);
  });

  it('reads how many review apps an app may have: 20 by default, 0 off, a bad value named', () => {
    assert.equal(loadApiConfig({}).reviewAppsMax, 20);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_MAX: '0' }).reviewAppsMax, 0);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_MAX: '3' }).reviewAppsMax, 3);
    assert.throws(
      () => loadApiConfig({ PAAS_REVIEW_APPS_MAX: 'many' }),
      (err: unknown) => err instanceof ConfigError && /PAAS_REVIEW_APPS_MAX/.test(err.message),
    );
  });

  it('reads how long a review app idles before it sleeps: 30m by default, 0 never, a bad value named', () => {
    assert.equal(loadApiConfig({}).reviewAppsIdleMs, 30 * 60_000);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_IDLE: '0' }).reviewAppsIdleMs, 0);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_IDLE: '2h' }).reviewAppsIdleMs, 2 * 3_600_000);
    for (const bad of ['soon', '-5m', '0.5s', '30'])
      assert.throws(
        () => loadApiConfig({ PAAS_REVIEW_APPS_IDLE: bad }),
        (err: unknown) => err instanceof ConfigError && /PAAS_REVIEW_APPS_IDLE/.test(err.message),
        bad,
      );
  });

  it('reads how long review apps live without a push: days by default, 0 off, a bad value named', () => {
    assert.equal(loadApiConfig({}).reviewAppsTtlMs, 5 * 86_400_000);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_TTL: '0' }).reviewAppsTtlMs, 0);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_TTL: '2' }).reviewAppsTtlMs, 2 * 86_400_000);
    assert.equal(loadApiConfig({ PAAS_REVIEW_APPS_TTL: '12h' }).reviewAppsTtlMs, 12 * 3_600_000);
    assert.throws(
      () => loadApiConfig({ PAAS_REVIEW_APPS_TTL: '5 days' }),
      (err: unknown) => {
        return err instanceof ConfigError && /PAAS_REVIEW_APPS_TTL/.test(err.message);
      },
    );
  });

  it("knows the router's HTTPS port as the router reads PAAS_ROUTER_TLS_ADDR, or that there is none", () => {
    assert.equal(loadApiConfig({}).routerHttpsPort, 443);
    assert.equal(loadApiConfig({ PAAS_ROUTER_TLS_ADDR: '0.0.0.0:8443' }).routerHttpsPort, 8443);
    assert.equal(loadApiConfig({ PAAS_ROUTER_TLS_ADDR: 'off' }).routerHttpsPort, null);
    assert.equal(loadApiConfig({ PAAS_ROUTER_ADDR: '127.0.0.1:0' }).routerHttpsPort, null, 'port 0: not known ahead');
    assert.throws(
      () => loadApiConfig({ PAAS_ROUTER_TLS_ADDR: 'nowhere' }),
      /PAAS_ROUTER_TLS_ADDR="nowhere": .* or off/,
    );
  });

  it('adds nothing for loopback, unix sockets and the embedded database', () => {
    assert.deepEqual(loadApiConfig({}).engine.bridge.protectedCidrs, []);
    assert.deepEqual(
      loadApiConfig({ DATABASE_URL: 'postgres://localhost/x', REDIS_URL: 'unix:///run/r.sock' }).engine.bridge
        .protectedCidrs,
      [],
    );
  });

  it('trusts PAAS_CA_FILE for a rediss:// REDIS_URL, and says when that file cannot be read', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-api-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await ensurePlatformCa(join(dir, 'tls'));
    const root = join(dir, 'root');
    assert.equal(loadApiConfig({ PAAS_ROOT: root, REDIS_URL: 'rediss://:pw@10.0.0.6' }).redisCa, null);
    assert.equal(
      loadApiConfig({ PAAS_ROOT: root, REDIS_URL: 'rediss://:pw@10.0.0.6', PAAS_CA_FILE: ca.certFile }).redisCa,
      ca.cert,
    );
    assert.equal(
      loadApiConfig({ PAAS_ROOT: root, REDIS_URL: 'redis://10.0.0.6', PAAS_CA_FILE: ca.certFile }).redisCa,
      null,
      'no TLS, no CA',
    );
    assert.throws(
      () => loadApiConfig({ PAAS_ROOT: root, REDIS_URL: 'rediss://10.0.0.6', PAAS_CA_FILE: join(dir, 'missing.crt') }),
      (err: Error) => err instanceof ConfigError && /PAAS_CA_FILE/.test(err.message) && /cannot read/.test(err.message),
    );
  });

  it('reads the roots uploaded certificates may chain to from PAAS_CERTS_TRUSTED_CA_FILE, naming a bad file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-api-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await ensurePlatformCa(join(dir, 'tls'));
    assert.deepEqual(loadApiConfig({}).certsTrusted, []);
    const trusted = loadApiConfig({ PAAS_CERTS_TRUSTED_CA_FILE: ca.certFile }).certsTrusted;
    assert.deepEqual(
      trusted.map((c) => c.subject),
      ['CN=paas platform CA'],
    );
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    for (const [file, reason] of [
      [join(dir, 'missing.pem'), /cannot read: ENOENT/],
      [join(dir, 'junk.pem'), /no PEM certificate in it/],
    ] as const) {
      assert.throws(
        () => loadApiConfig({ PAAS_CERTS_TRUSTED_CA_FILE: file }),
        (err: Error) =>
          err instanceof ConfigError &&
          err.message.startsWith('PAAS_CERTS_TRUSTED_CA_FILE=') &&
          reason.test(err.message),
      );
    }
  });

  it('speaks plain HTTP to the registries PAAS_INSECURE_REGISTRIES names (a platform registry on a cluster bridge)', () => {
    assert.deepEqual(loadApiConfig({}).insecureRegistries, []);
    assert.deepEqual(
      loadApiConfig({ PAAS_REGISTRY_ADDR: '10.0.0.7:5000', PAAS_INSECURE_REGISTRIES: '10.0.0.7:5000,r.lan:5000' })
        .insecureRegistries,
      ['10.0.0.7:5000', 'r.lan:5000'],
    );
  });

  it('refuses a PAAS_INSECURE_REGISTRIES entry that is not HOST[:PORT]', () => {
    assert.throws(
      () => loadApiConfig({ PAAS_INSECURE_REGISTRIES: 'https://10.0.0.7:5000' }),
      (err: unknown) =>
        err instanceof ConfigError && /"https:\/\/10\.0\.0\.7:5000" is not HOST\[:PORT\]/.test(err.message),
    );
  });

  it('trusts the platform CA for registries once this very start has made it (read after the config)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'paas-api-config-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    const config = loadApiConfig({ PAAS_ROOT: root });
    assert.equal(config.registryTrust(), null, 'no CA yet');
    const ca = await ensurePlatformCa(platformTlsDirectory(root));
    assert.deepEqual(config.registryTrust(), { file: ca.certFile, pem: ca.cert });
  });

  it('keeps the git repositories under PAAS_ROOT, or where PAAS_GIT_ROOT says (shared storage)', () => {
    assert.equal(loadApiConfig({ PAAS_ROOT: '/srv/paas' }).gitRoot, '/srv/paas/platform/git');
    assert.equal(loadApiConfig({ PAAS_ROOT: '/srv/paas', PAAS_GIT_ROOT: '' }).gitRoot, '/srv/paas/platform/git');
    assert.equal(loadApiConfig({ PAAS_GIT_ROOT: '/mnt/shared/git/' }).gitRoot, '/mnt/shared/git');
  });

  for (const [bad, reason] of [
    ['git', 'must be an absolute path'],
    ['./shared/git', 'must be an absolute path'],
    ['/mnt/\0git', 'must not contain NUL'],
  ] as const) {
    it(`refuses PAAS_GIT_ROOT=${JSON.stringify(bad)}: ${reason}`, () => {
      assert.throws(
        () => loadApiConfig({ PAAS_GIT_ROOT: bad }),
        (err: unknown) =>
          err instanceof ConfigError && err.message === `PAAS_GIT_ROOT=${JSON.stringify(bad)}: ${reason}`,
      );
    });
  }
});
