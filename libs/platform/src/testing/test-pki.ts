/**
 * A private PKI for certificate specs: a root CA, an intermediate it signs, and leaves the
 * intermediate signs (platform-ca.ts issueLeaf), so a spec uploads real chains (leaf,
 * intermediate) that verify, for OpenSSL too, against `root` only.
 */
import { webcrypto } from 'node:crypto';
import { type KeyPair, issueLeaf } from '../tls/platform-ca';

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

/**
 * A fresh root (no path length limit) and intermediate; or an intermediate under `root` (the
 * platform CA's, whose path length 0 allows no intermediate: for refusals).
 */
export async function makeTestPki(root?: KeyPair): Promise<TestPki> {
  root ??= await issueRoot();
  const intermediate = await issueCa(root, 'paas test intermediate');
  return {
    root,
    intermediate,
    leaf: (names, now) => issueLeaf(intermediate, { commonName: names[0] ?? 'leaf', sans: names }, now),
    chain: (leaf) => `${leaf.cert.trimEnd()}\n${intermediate.cert}`,
  };
}

type X509Lib = typeof import('@peculiar/x509');

async function library(): Promise<X509Lib> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

const serial = (): string => '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex');

async function keyPair(keys: webcrypto.CryptoKeyPair, cert: { toString(format: 'pem'): string }): Promise<KeyPair> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return {
    cert: `${cert.toString('pem').trimEnd()}\n`,
    key: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`,
  };
}

/** A self-signed root CA without a path length limit. */
async function issueRoot(): Promise<KeyPair> {
  const x509 = await library();
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: new x509.Name([{ CN: ['paas test root'] }]),
    notBefore: new Date(now - 10 * DAY),
    notAfter: new Date(now + 5 * 365 * DAY),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return keyPair(keys, cert);
}

async function issueCa(root: KeyPair, name: string): Promise<KeyPair> {
  const x509 = await library();
  const rootCert = new x509.X509Certificate(root.cert);
  const rootKey = await webcrypto.subtle.importKey('pkcs8', pemBody(root.key), EC, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new x509.Name([{ CN: [name] }]),
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
  return keyPair(keys, cert);
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
