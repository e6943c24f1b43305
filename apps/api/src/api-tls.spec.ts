import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { issueLeaf } from '@paas/platform';
import { apiTlsCredentials } from './api-tls';
import { loadApiConfig } from './config';

describe("the api's TLS", () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-api-tls-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const root = (): string => join(base, `root${n++}`);

  it('stays plain HTTP on loopback, and the first start makes the platform CA anyway', async () => {
    for (const addr of ['127.0.0.1:7000', '[::1]:7000', 'localhost:7000']) {
      const config = loadApiConfig({ PAAS_ROOT: root(), PAAS_API_ADDR: addr });
      assert.equal(config.tls, null, addr);
      const creds = await apiTlsCredentials(config);
      assert.equal(creds.serving, null);
      assert.ok(existsSync(join(config.paths.root, 'platform', 'tls', 'ca.crt')));
    }
  });

  it('serves a leaf of the platform CA off loopback, naming the address, the host and PAAS_API_TLS_SANS', async () => {
    const config = loadApiConfig({
      PAAS_ROOT: root(),
      PAAS_API_ADDR: '10.77.0.1:7000',
      PAAS_API_TLS_SANS: 'api.example, 192.0.2.7',
    });
    assert.deepEqual(config.tls, { source: 'platform-ca', sans: ['api.example', '192.0.2.7'] });
    const creds = await apiTlsCredentials(config);
    assert.ok(creds.serving);
    const leaf = new X509Certificate(creds.serving.cert);
    assert.ok(leaf.verify(new X509Certificate(creds.ca.cert).publicKey), 'signed by the platform CA');
    for (const ip of ['10.77.0.1', '192.0.2.7', '127.0.0.1']) assert.equal(leaf.checkIP(ip), ip);
    for (const name of ['api.example', hostname().toLowerCase(), 'localhost']) assert.equal(leaf.checkHost(name), name);
    assert.equal(leaf.checkIP('10.77.0.2'), undefined);
    assert.equal((await apiTlsCredentials(config)).serving?.cert, creds.serving.cert, 'the next start reuses it');
    assert.equal(await creds.refresh(), creds.serving, 'nothing due');
  });

  it("serves the operator's certificate when given, and refuses a key that is not its own", async () => {
    const dir = mkdtempSync(join(base, 'op-'));
    const other = await apiTlsCredentials(loadApiConfig({ PAAS_ROOT: root(), PAAS_API_ADDR: '10.77.0.1:0' }));
    const a = await issueLeaf(other.ca, { commonName: 'a', sans: ['api.example'] });
    const b = await issueLeaf(other.ca, { commonName: 'b', sans: ['api.example'] });
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'a.key'), a.key);
    writeFileSync(join(dir, 'b.key'), b.key);
    const env = { PAAS_ROOT: root(), PAAS_API_ADDR: '0.0.0.0:7000', PAAS_API_TLS_CERT: join(dir, 'a.crt') };
    const creds = await apiTlsCredentials(loadApiConfig({ ...env, PAAS_API_TLS_KEY: join(dir, 'a.key') }));
    assert.equal(creds.serving?.cert, a.cert);
    await assert.rejects(
      apiTlsCredentials(loadApiConfig({ ...env, PAAS_API_TLS_KEY: join(dir, 'b.key') })),
      /PAAS_API_TLS_KEY \(.*b\.key\): is not the key of the certificate in PAAS_API_TLS_CERT/,
    );
  });

  for (const [env, message] of [
    [{ PAAS_API_TLS_CERT: '/x.crt' }, /PAAS_API_TLS_KEY="": required with PAAS_API_TLS_CERT/],
    [{ PAAS_API_TLS_KEY: '/x.key' }, /PAAS_API_TLS_CERT="": required with PAAS_API_TLS_KEY/],
    [
      { PAAS_API_TLS_SANS: 'ok.example,not a name' },
      /PAAS_API_TLS_SANS=.*"not a name" is neither a DNS name nor an IP address/,
    ],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      assert.throws(() => loadApiConfig({ PAAS_API_ADDR: '10.77.0.1:7000', ...env }), message);
    });
  }
});
