import { ConfigError } from '@paas/config';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTestPki } from '@paas/platform/testing';
import { acmeSettings } from './acme.config';

describe('ACME settings', () => {
  it('are off without PAAS_ACME_DIRECTORY, and read the directory, contact, CA and interval', async (t) => {
    assert.deepEqual(acmeSettings({}), { directoryUrl: null, email: null, caPem: null, intervalMs: 5000 });
    const dir = mkdtempSync(join(tmpdir(), 'paas-acme-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = (await makeTestPki()).root.cert;
    writeFileSync(join(dir, 'ca.pem'), pem);
    assert.deepEqual(
      acmeSettings({
        PAAS_ACME_DIRECTORY: 'https://acme-staging-v02.api.letsencrypt.org/directory',
        PAAS_ACME_EMAIL: 'ops@example.com',
        PAAS_ACME_CA_FILE: join(dir, 'ca.pem'),
        PAAS_ACME_INTERVAL_MS: '500',
      }),
      {
        directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
        email: 'ops@example.com',
        caPem: pem,
        intervalMs: 500,
      },
    );
  });

  it('refuses a bad value naming the setting and what is wrong', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-acme-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    for (const [env, reason] of [
      [
        { PAAS_ACME_DIRECTORY: 'http://acme.example/dir' },
        /PAAS_ACME_DIRECTORY="http:\/\/acme.example\/dir": must be an https:\/\/ URL/,
      ],
      [{ PAAS_ACME_DIRECTORY: 'not a url' }, /PAAS_ACME_DIRECTORY="not a url": not a URL/],
      [{ PAAS_ACME_EMAIL: 'ops' }, /PAAS_ACME_EMAIL="ops": not an e-mail address/],
      [{ PAAS_ACME_CA_FILE: join(dir, 'missing.pem') }, /PAAS_ACME_CA_FILE=.*cannot read: ENOENT/],
      [{ PAAS_ACME_CA_FILE: join(dir, 'junk.pem') }, /PAAS_ACME_CA_FILE=.*not a PEM certificate/],
      [{ PAAS_ACME_INTERVAL_MS: '5s' }, /PAAS_ACME_INTERVAL_MS="5s": expected milliseconds/],
    ] as const) {
      assert.throws(
        () => acmeSettings(env),
        (err: Error) => err instanceof ConfigError && reason.test(err.message),
        JSON.stringify(env),
      );
    }
  });
});
