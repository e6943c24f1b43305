/**
 * A private PKI for certificate specs: a root CA (the platform CA's code, in a temp dir), an
 * intermediate it signs, and leaves the intermediate signs (platform-ca.ts issueLeaf), so a
 * spec uploads real chains (leaf, intermediate) that verify against `root` only.
 */
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyPair, ensurePlatformCa, issueLeaf } from '../tls/platform-ca';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface TestPki {
  readonly root: KeyPair;
  readonly intermediate: KeyPair;
  /** A leaf for `names` (the first is the CN) signed by the intermediate, valid from `now` - 5 min for a year. */
  leaf(names: readonly string[], now?: Date): Promise<KeyPair>;
  /** leaf + intermediate, PEM: what an upload's `cert` holds. */
  chain(leaf: KeyPair): string;
}

/** A fresh root and intermediate. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'paas-pki-'));
  let root: KeyPair;
  try {
    const ca = await ensurePlatformCa(dir);
    root = { cert: ca.cert, key: ca.key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const intermediate = await issueIntermediate(root);
  return {
    root,
    intermediate,
    leaf: (names, now) => issueLeaf(intermediate, { commonName: names[0] ?? 'leaf', sans: names }, now),
    chain: (leaf) => leaf.cert + intermediate.cert,
  };
}

async function issueIntermediate(root: KeyPair): Promise<KeyPair> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const rootCert = new x509.X509Certificate(root.cert);
  const rootKey = await webcrypto.subtle.importKey('pkcs8', pemBody(root.key), EC, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    subject: new x509.Name([{ CN: ['paas test intermediate'] }]),
    issuer: rootCert.subjectName,
    notBefore: new Date(now - 10 * DAY),
    notAfter: new Date(now + 3 * 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: rootKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
    ],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key: key.replace(/\n\n/g, '\n') };
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
