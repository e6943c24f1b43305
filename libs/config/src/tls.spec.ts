import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from './env';
import { isLoopbackHost, localApiUrl, platformTlsDirectory, tlsFailureReason, trustedCa } from './tls';

describe('isLoopbackHost', () => {
  it('is true for 127/8, ::1 and localhost only', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])
      assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '127.example.com', '::ffff:10.0.0.1'])
      assert.equal(isLoopbackHost(host), false, host);
  });
});

describe('localApiUrl', () => {
  it('is http on loopback and https elsewhere, where the api serves TLS', () => {
    assert.equal(localApiUrl({}), 'http://127.0.0.1:7000');
    assert.equal(localApiUrl({ PAAS_API_ADDR: '[::1]:7002' }), 'http://[::1]:7002');
    assert.equal(localApiUrl({ PAAS_API_ADDR: ':7001' }), 'https://127.0.0.1:7001');
    assert.equal(localApiUrl({ PAAS_API_ADDR: '[::]:7001' }), 'https://[::1]:7001');
    assert.equal(localApiUrl({ PAAS_API_ADDR: '10.0.0.2:7000' }), 'https://10.0.0.2:7000');
  });
});

describe('trustedCa', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-trust-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=test CA',
      '-days',
      '1',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
    ],
    { stdio: 'ignore' },
  );
  const pem = readFileSync(join(dir, 'ca.pem'), 'utf8');

  it('reads PAAS_CA_FILE first, else the platform CA under PAAS_ROOT, else none', () => {
    const root = join(dir, 'root');
    assert.equal(trustedCa({ PAAS_ROOT: root }), null);
    mkdirSync(platformTlsDirectory(root), { recursive: true });
    writeFileSync(join(platformTlsDirectory(root), 'ca.crt'), pem);
    assert.deepEqual(trustedCa({ PAAS_ROOT: root }), { file: join(root, 'platform', 'tls', 'ca.crt'), pem });
    assert.deepEqual(trustedCa({ PAAS_ROOT: join(dir, 'none'), PAAS_CA_FILE: join(dir, 'ca.pem') }), {
      file: join(dir, 'ca.pem'),
      pem,
    });
  });

  it('refuses a PAAS_CA_FILE that is missing or not a certificate, naming it', () => {
    assert.throws(
      () => trustedCa({ PAAS_CA_FILE: join(dir, 'missing.pem') }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^PAAS_CA_FILE=".*missing\.pem": cannot read: ENOENT/);
        return true;
      },
    );
    assert.throws(
      () => trustedCa({ PAAS_CA_FILE: join(dir, 'ca.key') }),
      /PAAS_CA_FILE=.*ca\.key": not a PEM certificate/,
    );
    writeFileSync(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.throws(
      () => trustedCa({ PAAS_CA_FILE: join(dir, 'broken.pem') }),
      /broken\.pem": not a valid PEM certificate/,
    );
  });

  it('explains TLS failures and leaves other errors alone', () => {
    const ca = { file: '/x/ca.crt', pem };
    assert.match(
      tlsFailureReason('UNABLE_TO_VERIFY_LEAF_SIGNATURE', ca) ?? '',
      /not signed by a trusted CA.*\/x\/ca\.crt.*PAAS_CA_FILE/,
    );
    assert.match(tlsFailureReason('SELF_SIGNED_CERT_IN_CHAIN', null) ?? '', /no PAAS_CA_FILE given/);
    assert.match(tlsFailureReason('ERR_TLS_CERT_ALTNAME_INVALID', ca) ?? '', /PAAS_API_TLS_SANS/);
    assert.equal(tlsFailureReason('ECONNREFUSED', ca), undefined);
    assert.equal(tlsFailureReason(undefined, ca), undefined);
  });
});
