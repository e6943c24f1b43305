import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type TLSSocket, connect, createServer } from 'node:tls';
import { platformTlsDirectory } from '@paas/config';
import { ensurePlatformCa, issueLeaf } from './platform-ca';
import { type ServiceTlsCredentials, keepRenewed, serviceTlsCredentials, serviceTlsSettings } from './serving';

const REGISTRY = { service: 'registry', prefix: 'PAAS_REGISTRY' } as const;

describe("a service's TLS (the registry's settings)", () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-serving-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const root = (): string => join(base, `root${n++}`);

  it('is plain HTTP on loopback, a platform-CA leaf elsewhere, the operator pair when given', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.9'])
      assert.equal(serviceTlsSettings({}, 'PAAS_REGISTRY', host), null, host);
    assert.deepEqual(
      serviceTlsSettings({ PAAS_REGISTRY_TLS_SANS: ' reg.example ,10.1.2.3' }, 'PAAS_REGISTRY', '0.0.0.0'),
      {
        source: 'platform-ca',
        sans: ['reg.example', '10.1.2.3'],
      },
    );
    assert.deepEqual(
      serviceTlsSettings(
        { PAAS_REGISTRY_TLS_CERT: '/c/r.crt', PAAS_REGISTRY_TLS_KEY: '/c/r.key' },
        'PAAS_REGISTRY',
        '10.0.0.1',
      ),
      { source: 'operator', certFile: '/c/r.crt', keyFile: '/c/r.key' },
    );
    // the api's settings are not the registry's
    assert.deepEqual(serviceTlsSettings({ PAAS_API_TLS_CERT: '/c/a.crt' }, 'PAAS_REGISTRY', '10.0.0.1'), {
      source: 'platform-ca',
      sans: [],
    });
  });

  for (const [env, message] of [
    [{ PAAS_REGISTRY_TLS_CERT: '/x.crt' }, /PAAS_REGISTRY_TLS_KEY="": required with PAAS_REGISTRY_TLS_CERT/],
    [{ PAAS_REGISTRY_TLS_KEY: '/x.key' }, /PAAS_REGISTRY_TLS_CERT="": required with PAAS_REGISTRY_TLS_KEY/],
    [{ PAAS_REGISTRY_TLS_SANS: 'ok.example,a/b' }, /PAAS_REGISTRY_TLS_SANS=.*"a\/b" is neither a DNS name nor an IP/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}, on loopback too`, () => {
      assert.throws(() => serviceTlsSettings(env, 'PAAS_REGISTRY', '127.0.0.1'), message);
    });
  }

  it("issues the registry's own leaf of the platform CA, naming its address, this host and the SANs", async () => {
    const r = root();
    const creds = await serviceTlsCredentials(r, REGISTRY, '10.77.0.1', {
      source: 'platform-ca',
      sans: ['reg.example'],
    });
    assert.ok(creds.serving);
    const leaf = new X509Certificate(creds.serving.cert);
    assert.ok(leaf.verify(new X509Certificate(creds.ca.cert).publicKey), 'signed by the platform CA');
    assert.equal(leaf.subject, 'CN=paas registry');
    assert.equal(leaf.checkIP('10.77.0.1'), '10.77.0.1');
    for (const name of ['reg.example', hostname().toLowerCase()]) assert.equal(leaf.checkHost(name), name);
    const api = await serviceTlsCredentials(r, { service: 'api', prefix: 'PAAS_API' }, '10.77.0.1', {
      source: 'platform-ca',
      sans: [],
    });
    assert.equal(api.ca.cert, creds.ca.cert, 'one CA for every service');
    assert.notEqual(api.serving?.cert, creds.serving.cert, 'each service its own leaf');
    assert.equal(await creds.refresh(), creds.serving, 'nothing due: the same leaf');
  });

  it("names the registry's settings when the operator's key is not the certificate's", async () => {
    const dir = mkdtempSync(join(base, 'op-'));
    const ca = await ensurePlatformCa(platformTlsDirectory(root()));
    const a = await issueLeaf(ca, { commonName: 'a', sans: ['reg.example'] });
    const b = await issueLeaf(ca, { commonName: 'b', sans: ['reg.example'] });
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'b.key'), b.key);
    await assert.rejects(
      serviceTlsCredentials(root(), REGISTRY, '10.0.0.1', {
        source: 'operator',
        certFile: join(dir, 'a.crt'),
        keyFile: join(dir, 'b.key'),
      }),
      /PAAS_REGISTRY_TLS_KEY \(.*b\.key\): is not the key of the certificate in PAAS_REGISTRY_TLS_CERT/,
    );
  });

  it('keepRenewed swaps a renewed leaf into a running server', async () => {
    const ca = await ensurePlatformCa(platformTlsDirectory(root()));
    const first = await issueLeaf(ca, { commonName: 'first', sans: ['127.0.0.1'] });
    const second = await issueLeaf(ca, { commonName: 'second', sans: ['127.0.0.1'] });
    const server = createServer({ cert: first.cert, key: first.key }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    after(() => server.close());
    let due = false;
    const creds: ServiceTlsCredentials = { ca, serving: first, refresh: () => Promise.resolve(due ? second : first) };
    keepRenewed(server, creds, (message) => assert.fail(message), 10);
    const presented = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const port = (server.address() as { port: number }).port;
        const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: ca.cert }, () => {
          resolve(socket.getPeerX509Certificate()?.subject ?? '');
          socket.destroy();
        });
        socket.once('error', reject);
      });
    assert.equal(await presented(), 'CN=first');
    due = true;
    let seen = '';
    for (let i = 0; i < 500 && seen !== 'CN=second'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      seen = await presented();
    }
    assert.equal(seen, 'CN=second', 'the renewed leaf is presented without a restart');
  });
});
