import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { type TestPki, makeTestPki } from '../testing/test-pki';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePlatformCa, issueLeaf } from '../tls/platform-ca';
import {
  CHAIN_MAX_LENGTH,
  CertificateError,
  type ValidateOptions,
  coveredDomains,
  nameCovers,
  validateCertificate,
} from './validate';

const DAY = 86_400_000;

describe('validateCertificate', () => {
  let pki: TestPki;
  let options: ValidateOptions;
  before(async () => {
    pki = await makeTestPki();
    options = {
      domains: ['www.example.com', 'api.example.com', 'example.org'],
      trusted: [new X509Certificate(pki.root.cert)],
    };
  });

  /** The refusal of `input`: its field and message, checked to be a CertificateError that quotes no key. */
  async function refusal(
    input: { cert: string; key: string },
    opts: ValidateOptions = options,
  ): Promise<CertificateError> {
    try {
      await validateCertificate(input, opts);
    } catch (err) {
      assert.ok(err instanceof CertificateError, String(err));
      assert.equal(err.code, 'invalid_params');
      for (const line of input.key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')))
        assert.ok(!err.message.includes(line), 'the message quotes the key');
      return err;
    }
    assert.fail('accepted');
  }

  it('accepts a leaf with its intermediate under a trusted root, and says what it covers', async () => {
    const leaf = await pki.leaf(['www.example.com', '*.example.org', 'api.example.com']);
    const valid = await validateCertificate({ cert: pki.chain(leaf), key: leaf.key }, options);
    assert.deepEqual(valid.names, ['www.example.com', '*.example.org', 'api.example.com']);
    assert.deepEqual(valid.covers, ['api.example.com', 'www.example.com'], 'example.org is not under *.example.org');
    const x = new X509Certificate(leaf.cert);
    assert.equal(valid.fingerprint, x.fingerprint256);
    assert.equal(valid.notAfter.getTime(), Date.parse(x.validTo));
    assert.equal(valid.notBefore.getTime(), Date.parse(x.validFrom));
    assert.equal(valid.issuer, 'CN=paas test intermediate');
    assert.equal(valid.chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.match(valid.key, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('accepts a chain that ends in the root itself, and a self-signed certificate', async () => {
    const leaf = await pki.leaf(['www.example.com']);
    const withRoot = { cert: pki.chain(leaf) + pki.root.cert, key: leaf.key };
    assert.deepEqual((await validateCertificate(withRoot, { domains: options.domains })).covers, ['www.example.com']);
    const self = await issueLeaf(
      { cert: pki.root.cert, key: pki.root.key },
      { commonName: 'x', sans: ['example.org'] },
    );
    // signed by the root: complete once the root is trusted or in the chain
    assert.deepEqual((await validateCertificate({ cert: self.cert + pki.root.cert, key: self.key }, options)).covers, [
      'example.org',
    ]);
  });

  it('refuses a key of another certificate, naming the leaf', async () => {
    const leaf = await pki.leaf(['www.example.com']);
    const other = await pki.leaf(['www.example.com']);
    const err = await refusal({ cert: pki.chain(leaf), key: other.key });
    assert.equal(err.field, 'key');
    assert.match(err.message, /^key: is not the key of certificate 1 \(CN=www\.example\.com\)/);
  });

  it('refuses a chain without its intermediate, or with certificates out of order', async () => {
    const leaf = await pki.leaf(['www.example.com']);
    let err = await refusal({ cert: leaf.cert, key: leaf.key });
    assert.equal(err.field, 'cert');
    assert.match(
      err.message,
      /chain is incomplete: certificate 1 \(CN=www\.example\.com\) is issued by CN=paas test intermediate/,
    );
    err = await refusal({ cert: pki.intermediate.cert + leaf.cert, key: leaf.key });
    // the key is checked against the first certificate: the intermediate is not its
    assert.equal(err.field, 'key');
    const other = await pki.leaf(['api.example.com']);
    err = await refusal({ cert: leaf.cert + other.cert, key: leaf.key });
    assert.match(
      err.message,
      /certificate 1 \(CN=www\.example\.com\) is not issued by certificate 2 \(CN=api\.example\.com\)/,
    );
    // without the operator's root, the intermediate's issuer is unknown
    err = await refusal({ cert: pki.chain(leaf), key: leaf.key }, { domains: options.domains });
    assert.match(err.message, /certificate 2 \(CN=paas test intermediate\) is issued by CN=paas test root/);
  });

  it('refuses what a TLS client refuses besides: an intermediate under a root that allows none', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-validate-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await ensurePlatformCa(dir); // path length 0
    const under = await makeTestPki({ cert: ca.cert, key: ca.key });
    const leaf = await under.leaf(['www.example.com']);
    const err = await refusal(
      { cert: under.chain(leaf), key: leaf.key },
      { ...options, trusted: [new X509Certificate(ca.cert)] },
    );
    assert.equal(err.field, 'cert');
    assert.match(err.message, /^cert: a TLS client refuses the chain: path length constraint exceeded/);
  });

  it('refuses an expired leaf and one not valid yet', async () => {
    const old = await pki.leaf(['www.example.com'], new Date(Date.now() - 400 * DAY));
    let err = await refusal({ cert: pki.chain(old), key: old.key });
    assert.match(err.message, /^cert: certificate 1 \(CN=www\.example\.com\) expired on \d{4}-/);
    const future = await pki.leaf(['www.example.com'], new Date(Date.now() + 2 * DAY));
    err = await refusal({ cert: pki.chain(future), key: future.key });
    assert.match(err.message, /certificate 1 \(CN=www\.example\.com\) is not valid before/);
  });

  it("refuses names that cover none of the app's domains, naming both", async () => {
    const leaf = await pki.leaf(['shop.example.net', '*.www.example.com']);
    let err = await refusal({ cert: pki.chain(leaf), key: leaf.key });
    assert.match(
      err.message,
      /its names \(shop\.example\.net, \*\.www\.example\.com\) cover none of the app's domains \(www\.example\.com, api\.example\.com, example\.org\)/,
    );
    err = await refusal({ cert: pki.chain(leaf), key: leaf.key }, { ...options, domains: [] });
    assert.match(err.message, /domains \(none; add one with domains:add first\)/);
  });

  it('refuses garbage, a key in the cert field, a certificate in the key field, and too much', async () => {
    const leaf = await pki.leaf(['www.example.com']);
    const chain = pki.chain(leaf);
    const cases: [{ cert: string; key: string }, 'cert' | 'key', RegExp][] = [
      [{ cert: 'hello', key: leaf.key }, 'cert', /not a PEM certificate/],
      [{ cert: '', key: leaf.key }, 'cert', /is empty/],
      [
        { cert: '-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n', key: leaf.key },
        'cert',
        /certificate 1 of the chain does not parse/,
      ],
      [{ cert: leaf.key, key: leaf.key }, 'cert', /holds a private key: the key goes in the key field/],
      [{ cert: chain + leaf.key, key: leaf.key }, 'cert', /holds a private key/],
      [{ cert: chain, key: leaf.cert }, 'key', /not a PEM private key .*it holds a certificate/],
      [{ cert: chain, key: 'garbage' }, 'key', /not a PEM private key/],
      [
        { cert: chain, key: '-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n' },
        'key',
        /key: does not parse/,
      ],
      [{ cert: chain, key: leaf.key + leaf.key }, 'key', /holds 2 private keys/],
      [{ cert: chain, key: leaf.key.replace('PRIVATE KEY', 'ENCRYPTED PRIVATE KEY') }, 'key', /is encrypted/],
      [{ cert: leaf.cert.repeat(CHAIN_MAX_LENGTH + 1), key: leaf.key }, 'cert', /holds 9 certificates; at most 8/],
      [{ cert: 'x'.repeat(65 * 1024), key: leaf.key }, 'cert', /larger than 64 KiB/],
      [{ cert: chain, key: 'x'.repeat(17 * 1024) }, 'key', /larger than 16 KiB/],
    ];
    for (const [input, field, message] of cases) {
      const err = await refusal(input);
      assert.equal(err.field, field, err.message);
      assert.match(err.message, message);
    }
  });
});

describe('nameCovers', () => {
  it('matches exact names and one-label wildcards, nothing more', () => {
    assert.equal(nameCovers('www.example.com', 'www.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'www.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'example.com'), false);
    assert.equal(nameCovers('*.example.com', 'a.b.example.com'), false);
    assert.equal(nameCovers('*.example.com', 'wwwexample.com'), false);
    assert.equal(nameCovers('example.com', 'www.example.com'), false);
    assert.deepEqual(coveredDomains(['*.a.test', 'b.test'], ['x.a.test', 'b.test', 'a.test', 'y.x.a.test']), [
      'b.test',
      'x.a.test',
    ]);
  });
});
