/**
 * The platform CA: the control plane's own certificate authority, and the leaf certificates
 * it signs for the platform's services (the api today; the registry and Redis later).
 *
 * Layout under `$PAAS_ROOT/platform/tls/` (0700): `ca.key` (0600) and `ca.crt` of the CA
 * (ECDSA P-256, 10 years), and `<service>.pem` (0600): one leaf's key and certificate in one
 * file, so a reader never sees a key from one issue and a certificate from another.
 *
 * Every file appears under its final name whole and exactly once: it is written to a temp
 * name and hard-linked into place, which fails with EEXIST when another process got there
 * first. So api replicas starting at once on one root race on `ca.key` then on `ca.crt`,
 * and every one of them re-reads what the winner linked: one CA. A crash between the two
 * leaves a key without a certificate; the next start self-signs that key. Leaves are
 * replaced by rename (any replica's fresh leaf is as good as another's).
 *
 * Node has no API that makes certificates; @peculiar/x509 builds them on Node's webcrypto.
 * It is loaded on first use, so components that only trust the CA do not load it.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { PaasError } from '@paas/errors';
import { renewAt } from '../certs/acme-policy';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
export const CA_LIFETIME_DAYS = 3650;
export const LEAF_LIFETIME_DAYS = 365;

/** A certificate and its key, PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** The platform CA, loaded. */
export interface PlatformCa extends KeyPair {
  /** `$PAAS_ROOT/platform/tls/ca.crt`: what clients trust (PAAS_CA_FILE on another machine). */
  readonly certFile: string;
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo, as kubeadm's discovery-token-ca-cert-hash. */
  readonly hash: string;
}

/** A certificate, key or CA file that cannot be used; the message names the file. */
export class TlsError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

/** `sha256:<hex of the SubjectPublicKeyInfo>` of a PEM certificate. */
export function caHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** The CA under `dir`, made on first call (by whichever concurrent caller wins). */
export async function ensurePlatformCa(dir: string): Promise<PlatformCa> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.crt');
  let keyPem = readIfExists(keyFile);
  if (keyPem === null) {
    const keys = await generateKeys();
    publishOnce(keyFile, await privatePem(keys.privateKey));
    keyPem = readFileSync(keyFile, 'utf8');
  }
  const key = parseKey(keyPem, keyFile);
  let certPem = readIfExists(certFile);
  if (certPem === null) {
    publishOnce(certFile, await selfSign(key));
    certPem = readFileSync(certFile, 'utf8');
  }
  const cert = parseCert(certPem, certFile);
  if (!cert.checkPrivateKey(key)) throw new TlsError(`${certFile}: does not match the key in ${keyFile}`);
  if (!cert.ca) throw new TlsError(`${certFile}: not a CA certificate`);
  return { cert: certPem, key: keyPem, certFile, hash: caHash(certPem) };
}

/** What a leaf certifies: DNS names and IP addresses (at least one). */
export interface LeafRequest {
  readonly commonName: string;
  readonly sans: readonly string[];
}

/** A fresh leaf for `request`, signed by `ca`, valid LEAF_LIFETIME_DAYS from `now`. */
export async function issueLeaf(ca: KeyPair, request: LeafRequest, now = new Date()): Promise<KeyPair> {
  const sans = normaliseSans(request.sans);
  const x509 = await library();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', pkcs8(parseKey(ca.key, 'the CA key')), EC, false, ['sign']);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new x509.Name([{ CN: [request.commonName] }]),
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + LEAF_LIFETIME_DAYS * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans.map((v) => ({ type: isIP(v) ? 'ip' : 'dns', value: v }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
}

/**
 * The leaf of `service` under `dir` (`<service>.pem`), issued again when it is missing, not
 * signed by `ca`, does not name exactly `request.sans`, or has used two thirds of its life.
 */
export async function ensureLeaf(
  dir: string,
  ca: KeyPair,
  service: string,
  request: LeafRequest,
  now = new Date(),
): Promise<KeyPair> {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(service))
    throw new TlsError(`service name ${JSON.stringify(service)}: expected [a-z][a-z0-9-]*`);
  const file = join(dir, `${service}.pem`);
  const existing = readIfExists(file);
  if (existing !== null) {
    const pair = splitPem(existing);
    if (pair && leafIsCurrent(pair, ca, normaliseSans(request.sans), now)) return pair;
  }
  const fresh = await issueLeaf(ca, request, now);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${fresh.key}${fresh.cert}`, { mode: 0o600, flush: true });
  renameSync(tmp, file);
  return fresh;
}

/**
 * The operator's own certificate and key (files), validated: both PEM, and the key is the
 * certificate's. `names` say which settings gave them, for the messages.
 */
export function loadKeyPair(certFile: string, keyFile: string, names = { cert: certFile, key: keyFile }): KeyPair {
  const cert = readRequired(certFile, names.cert);
  const key = readRequired(keyFile, names.key);
  const x = parseCert(cert, `${names.cert} (${certFile})`);
  const k = parseKey(key, `${names.key} (${keyFile})`);
  if (!x.checkPrivateKey(k)) {
    throw new TlsError(`${names.key} (${keyFile}): is not the key of the certificate in ${names.cert} (${certFile})`);
  }
  return { cert, key };
}

function leafIsCurrent(pair: KeyPair, ca: KeyPair, sans: readonly string[], now: Date): boolean {
  try {
    const cert = new X509Certificate(pair.cert);
    if (!cert.verify(new X509Certificate(ca.cert).publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return false;
    // renewed at two thirds of its life, as certificates from ACME are
    const from = new Date(cert.validFrom);
    if (from.getTime() > now.getTime()) return false;
    if (now.getTime() >= renewAt(from, new Date(cert.validTo)).getTime()) return false;
    // Node writes IPv6 SANs expanded (0:0:0:0:0:0:0:1): addresses are compared by checkIP
    const entries = (cert.subjectAltName ?? '').split(', ').filter((e) => e !== '');
    const dns = new Set(entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase()));
    return (
      entries.length === sans.length &&
      sans.every((san) => (isIP(san) ? cert.checkIP(san) !== undefined : dns.has(san)))
    );
  } catch {
    return false;
  }
}

function normaliseSans(sans: readonly string[]): string[] {
  const out = [...new Set(sans.map((s) => s.trim().toLowerCase()).filter((s) => s !== ''))];
  if (out.length === 0) throw new TlsError('a leaf certificate needs at least one name or IP address');
  for (const name of out) {
    if (
      isIP(name) === 0 &&
      !/^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)
    ) {
      throw new TlsError(`${JSON.stringify(name)}: not a DNS name or an IP address`);
    }
  }
  return out;
}

async function selfSign(key: KeyObject): Promise<string> {
  const x509 = await library();
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8(key), EC, true, ['sign']);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC, true, ['verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: new x509.Name([{ CN: ['paas platform CA'] }]),
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + CA_LIFETIME_DAYS * DAY),
    keys: { privateKey, publicKey },
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return cert.toString('pem');
}

/** Links `content` into `file` unless some process already did; 0600, never half-written. */
function publishOnce(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flush: true });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

type X509Lib = typeof import('@peculiar/x509');
let loaded: Promise<X509Lib> | undefined;

function library(): Promise<X509Lib> {
  loaded ??= (async () => {
    await import('reflect-metadata'); // @peculiar/x509's dependency injection needs it
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  })();
  return loaded;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function pkcs8(key: KeyObject): Buffer {
  return key.export({ type: 'pkcs8', format: 'der' });
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString('hex');
}

function parseCert(pem: string, where: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new TlsError(`${where}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsError(`${where}: not a valid PEM certificate (${(err as Error).message})`);
  }
}

function parseKey(pem: string, where: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new TlsError(`${where}: not a PEM private key (no BEGIN PRIVATE KEY line)`);
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new TlsError(`${where}: not a valid PEM private key (${(err as Error).message})`);
  }
}

function splitPem(pem: string): KeyPair | null {
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(pem)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(pem)?.[0];
  return key && cert ? { key, cert } : null;
}

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function readRequired(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TlsError(
      `${setting} (${file}): cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
