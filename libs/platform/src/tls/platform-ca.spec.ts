import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TlsError, caHash, ensureLeaf, ensurePlatformCa, issueLeaf, loadKeyPair } from './platform-ca';
import { platformTlsDirectory as tlsDirectory } from '@paas/config';

const DAY = 86_400_000;

describe('platform CA', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-ca-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const fresh = (): string => tlsDirectory(join(base, `root${n++}`));

  it('is made once under platform/tls with a 0700 directory and 0600 key, and keeps its hash across loads', async () => {
    const dir = fresh();
    const ca = await ensurePlatformCa(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
    assert.equal(ca.certFile, join(dir, 'ca.crt'));
    const cert = new X509Certificate(readFileSync(ca.certFile));
    assert.equal(cert.ca, true);
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365 * DAY);
    assert.ok(years > 9.9 && years < 10.1, `${years} years`);
    assert.match(ca.hash, /^sha256:[0-9a-f]{64}$/);
    const again = await ensurePlatformCa(dir);
    assert.equal(again.hash, ca.hash);
    assert.equal(again.cert, ca.cert);
    assert.equal(caHash(readFileSync(ca.certFile, 'utf8')), ca.hash);
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key'], 'no temp file left');
  });

  it('is one CA when several first starts race on one root', async () => {
    const dir = fresh();
    const all = await Promise.all([1, 2, 3, 4].map(() => ensurePlatformCa(dir)));
    assert.equal(new Set(all.map((ca) => ca.hash)).size, 1, 'one hash');
    assert.equal(new Set(all.map((ca) => ca.key)).size, 1, 'one key');
    assert.equal((await ensurePlatformCa(dir)).hash, all[0]?.hash);
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key']);
  });

  it('is one CA when two processes start at once on one root', async () => {
    const dir = fresh();
    const go = join(base, `go-${n}`);
    // each loads the module, says so, and waits for `go`: both then make the CA at the same moment
    const script = [
      "const { existsSync } = require('node:fs');",
      "const { ensurePlatformCa } = require('./platform-ca');",
      "console.log('ready');",
      `const wait = () => existsSync(${JSON.stringify(go)}) ? ensurePlatformCa(${JSON.stringify(dir)}).then((ca) => console.log(ca.hash)) : setTimeout(wait, 1);`,
      'wait();',
    ].join('\n');
    const children = [1, 2].map(() => spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: __dirname }));
    const outputs = children.map(
      (child) =>
        new Promise<string>((resolve, reject) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (c: Buffer) => (out += c.toString()));
          child.stderr.on('data', (c: Buffer) => (err += c.toString()));
          child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
        }),
    );
    const ready = (child: ChildProcess): Promise<void> =>
      new Promise((resolve) => child.stdout?.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
    try {
      await Promise.all(children.map(ready));
      writeFileSync(go, '');
      const [a, b] = (await Promise.all(outputs)).map((out) => out.replace('ready', '').trim());
      assert.match(a ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(a, b, 'both processes loaded the same CA');
      assert.equal((await ensurePlatformCa(dir)).hash, a);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('self-signs a key left without its certificate by a crash, keeping the key', async () => {
    const dir = fresh();
    const first = await ensurePlatformCa(dir);
    unlinkSync(join(dir, 'ca.crt'));
    const repaired = await ensurePlatformCa(dir);
    assert.equal(repaired.hash, first.hash, 'same public key, same hash');
  });

  it('issues leaves that chain to it and name exactly the SANs asked', async () => {
    const ca = await ensurePlatformCa(fresh());
    const leaf = await issueLeaf(ca, { commonName: 'paas api', sans: ['10.77.0.1', 'Node1.Example', 'fd00::1'] });
    const cert = new X509Certificate(leaf.cert);
    assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey), 'signed by the CA');
    assert.ok(cert.checkIssued(new X509Certificate(ca.cert)));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkIP('10.77.0.1'), '10.77.0.1');
    assert.equal(cert.checkIP('fd00::1'), 'fd00::1');
    assert.equal(cert.checkHost('node1.example'), 'node1.example');
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.equal(cert.checkIP('10.77.0.2'), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(leaf.key)));
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY;
    assert.ok(days > 364 && days < 366, `${days} days`);
    const other = await ensurePlatformCa(fresh());
    assert.equal(cert.verify(new X509Certificate(other.cert).publicKey), false, 'another CA did not sign it');
  });

  it('refuses a leaf without names or with a name that is neither DNS nor IP', async () => {
    const ca = await ensurePlatformCa(fresh());
    await assert.rejects(issueLeaf(ca, { commonName: 'x', sans: [' '] }), TlsError);
    await assert.rejects(
      issueLeaf(ca, { commonName: 'x', sans: ['bad name!'] }),
      /"bad name!": not a DNS name or an IP address/,
    );
  });

  it('keeps a leaf until two thirds of its life are gone, or its names change', async () => {
    const dir = fresh();
    const ca = await ensurePlatformCa(dir);
    const request = { commonName: 'paas api', sans: ['10.77.0.1'] };
    const first = await ensureLeaf(dir, ca, 'api', request);
    assert.equal(statSync(join(dir, 'api.pem')).mode & 0o777, 0o600);
    assert.equal((await ensureLeaf(dir, ca, 'api', request)).cert, first.cert, 'reused');
    const kept = await ensureLeaf(dir, ca, 'api', request, new Date(Date.now() + 200 * DAY));
    assert.equal(kept.cert, first.cert, 'kept before two thirds');
    const later = await ensureLeaf(dir, ca, 'api', request, new Date(Date.now() + 250 * DAY));
    assert.notEqual(later.cert, first.cert, 'renewed after two thirds');
    const renamed = await ensureLeaf(dir, ca, 'api', { commonName: 'paas api', sans: ['10.77.0.1', 'api.example'] });
    assert.equal(new X509Certificate(renamed.cert).checkHost('api.example'), 'api.example', 're-issued for new names');
    const otherCa = await ensurePlatformCa(fresh());
    const reissued = await ensureLeaf(dir, otherCa, 'api', {
      commonName: 'paas api',
      sans: ['10.77.0.1', 'api.example'],
    });
    assert.ok(new X509Certificate(reissued.cert).verify(new X509Certificate(otherCa.cert).publicKey), 'follows the CA');
  });

  it("loads the operator's certificate and key, and refuses a key that is not the certificate's", async () => {
    const ca = await ensurePlatformCa(fresh());
    const a = await issueLeaf(ca, { commonName: 'a', sans: ['a.example'] });
    const b = await issueLeaf(ca, { commonName: 'b', sans: ['b.example'] });
    const dir = mkdtempSync(join(base, 'op-'));
    const write = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const names = { cert: 'PAAS_API_TLS_CERT', key: 'PAAS_API_TLS_KEY' };
    assert.deepEqual(loadKeyPair(write('a.crt', a.cert), write('a.key', a.key), names), a);
    assert.throws(
      () => loadKeyPair(join(dir, 'a.crt'), write('b.key', b.key), names),
      /PAAS_API_TLS_KEY \(.*b\.key\): is not the key of the certificate in PAAS_API_TLS_CERT/,
    );
    assert.throws(
      () => loadKeyPair(join(dir, 'missing.crt'), join(dir, 'a.key'), names),
      /PAAS_API_TLS_CERT \(.*missing\.crt\): cannot read: ENOENT/,
    );
  });

  it('refuses garbage PEM with a message naming the file', async () => {
    const dir = mkdtempSync(join(base, 'bad-'));
    const key = (await issueLeaf(await ensurePlatformCa(fresh()), { commonName: 'a', sans: ['a'] })).key;
    writeFileSync(join(dir, 'k.pem'), key);
    writeFileSync(join(dir, 'junk.crt'), 'hello');
    writeFileSync(join(dir, 'broken.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'junk.key'), '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n');
    assert.throws(() => loadKeyPair(join(dir, 'junk.crt'), join(dir, 'k.pem')), /junk\.crt.*not a PEM certificate/);
    assert.throws(
      () => loadKeyPair(join(dir, 'broken.crt'), join(dir, 'k.pem')),
      /broken\.crt.*not a valid PEM certificate/,
    );
    assert.throws(() => loadKeyPair(join(dir, 'broken.crt'), join(dir, 'junk.key')), TlsError);
    const root = fresh();
    await ensurePlatformCa(root);
    writeFileSync(join(root, 'ca.crt'), 'garbage');
    await assert.rejects(ensurePlatformCa(root), /ca\.crt: not a PEM certificate/);
  });
});
