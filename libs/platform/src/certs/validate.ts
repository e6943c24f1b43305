/**
 * An uploaded certificate (`paas certs:add CERT KEY`), checked before it is stored: a router
 * must never be handed a chain that clients refuse, a key that is not the leaf's, or a
 * certificate for names it would then serve for another app.
 *
 *   - `cert` is a PEM chain, leaf first, each certificate issued (checkIssued) and signed
 *     (verify) by the next; the last one is self-signed or issued by a trusted root: Node's
 *     own (tls.rootCertificates) or the operator's (PAAS_CERTS_TRUSTED_CA_FILE, private PKI)
 *   - `key` is one unencrypted PEM private key, the leaf's
 *   - every certificate of the chain is valid now
 *   - the leaf's names (SAN DNS names; the subject CN only when there is no SAN, as RFC 6125
 *     and Node's checkHost do) cover at least one of the app's custom domains; a wildcard
 *     covers one label (`*.example.com` covers `www.example.com`, not `example.com` nor
 *     `a.b.example.com`)
 *
 * Each refusal is a CertificateError (400) naming the field, which certificate of the chain
 * (1 is the leaf) and which name or domain. No message ever quotes the key or the input.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { duplexPair } from 'node:stream';
import { TLSSocket, connect, createSecureContext, rootCertificates } from 'node:tls';
import { PaasError } from '@paas/errors';

/** Larger uploads are refused before parsing (a chain of 10 RSA-4096 certificates is ~25 KiB). */
export const CERT_PEM_MAX_BYTES = 64 * 1024;
export const KEY_PEM_MAX_BYTES = 16 * 1024;
/** Leaf, intermediates and an optional root. */
export const CHAIN_MAX_LENGTH = 8;

/** Why an upload was refused; `field` is `cert` or `key`. */
export class CertificateError extends PaasError {
  constructor(
    readonly field: 'cert' | 'key',
    message: string,
  ) {
    super('invalid_params', `${field}: ${message}`);
  }
}

/** What is stored of a validated upload. */
export interface ValidCertificate {
  /** The chain as PEM, leaf first, normalised (one block per certificate, nothing between). */
  readonly chain: string;
  /** The key as PKCS#8 PEM (plain: seal it before it is stored). */
  readonly key: string;
  /** The leaf's DNS names, lower case (SAN; the CN when there is none). */
  readonly names: string[];
  /** The leaf's issuer, as one line (`CN=R3, O=Let's Encrypt, C=US`). */
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the leaf (DER), upper-case hex pairs joined by colons, as openssl prints it. */
  readonly fingerprint: string;
  /** The app domains it covers, sorted. */
  readonly covers: string[];
}

export interface ValidateOptions {
  /** The app's custom domains; the certificate must cover at least one. */
  readonly domains: readonly string[];
  /** Extra trusted roots (PEM), beside Node's. */
  readonly trusted?: readonly X509Certificate[];
  readonly now?: Date;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const ANY_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

export async function validateCertificate(
  input: { cert: string; key: string },
  options: ValidateOptions,
): Promise<ValidCertificate> {
  const now = options.now ?? new Date();
  const chain = parseChain(input.cert);
  const key = parseKey(input.key);
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key))
    throw new CertificateError(
      'key',
      `is not the key of certificate 1 (${subject(leaf)}): it belongs to another certificate`,
    );
  const anchor = checkChain(chain, options.trusted ?? []);
  chain.forEach((cert, i) => checkValidity(cert, i, now));
  const pem = chain.map((c) => c.toString()).join('');
  const refused = await tlsClientVerdict(pem, key, anchor.toString());
  if (refused) throw new CertificateError('cert', `a TLS client refuses the chain: ${refused}`);
  const names = certificateNames(leaf);
  if (names.length === 0)
    throw new CertificateError('cert', `certificate 1 (${subject(leaf)}) names no DNS name (no SAN DNS entry, no CN)`);
  const covers = coveredDomains(names, options.domains);
  if (covers.length === 0) {
    const domains = options.domains.length ? options.domains.join(', ') : 'none; add one with domains:add first';
    throw new CertificateError('cert', `its names (${names.join(', ')}) cover none of the app's domains (${domains})`);
  }
  return {
    chain: pem,
    key: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    names,
    issuer: oneLine(leaf.issuer),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint: leaf.fingerprint256,
    covers,
  };
}

/** Whether certificate name `name` (maybe `*.x`) covers host `hostname`; both lower case. */
export function nameCovers(name: string, hostname: string): boolean {
  if (name.startsWith('*.')) {
    const dot = hostname.indexOf('.');
    return dot > 0 && hostname.slice(dot + 1) === name.slice(2);
  }
  return name === hostname;
}

/** The domains of `domains` that some name of `names` covers, sorted. */
export function coveredDomains(names: readonly string[], domains: readonly string[]): string[] {
  return domains.filter((d) => names.some((n) => nameCovers(n, d.toLowerCase()))).sort();
}

/** The certificates of a PEM bundle (a trusted-CA file), with the file named in errors. */
export function parseTrustedCas(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new PaasError('invalid_params', `${where}: no PEM certificate in it`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new PaasError(
        'invalid_params',
        `${where}: certificate ${i + 1} does not parse (${(err as Error).message})`,
      );
    }
  });
}

/** The DNS names a certificate is for: SAN DNS entries, or the subject CN when it has no SAN. */
export function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san !== undefined) {
    const dns = san
      .split(', ')
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).replace(/^"|"$/g, '').toLowerCase());
    return [...new Set(dns)];
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

function parseChain(pem: string): X509Certificate[] {
  if (typeof pem !== 'string' || pem.trim() === '') throw new CertificateError('cert', 'is empty');
  if (Buffer.byteLength(pem) > CERT_PEM_MAX_BYTES)
    throw new CertificateError('cert', `is larger than ${CERT_PEM_MAX_BYTES / 1024} KiB`);
  for (const [, label] of pem.matchAll(ANY_BEGIN)) {
    if (label?.includes('PRIVATE KEY'))
      throw new CertificateError('cert', 'holds a private key: the key goes in the key field, the certificates here');
    if (label !== 'CERTIFICATE')
      throw new CertificateError('cert', `holds a PEM ${label} block: only certificates go here`);
  }
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new CertificateError('cert', 'is not a PEM certificate (no BEGIN CERTIFICATE line)');
  if (blocks.length > CHAIN_MAX_LENGTH)
    throw new CertificateError('cert', `holds ${blocks.length} certificates; at most ${CHAIN_MAX_LENGTH}`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CertificateError(
        'cert',
        `certificate ${i + 1} of the chain does not parse (${(err as Error).message})`,
      );
    }
  });
}

function parseKey(pem: string): KeyObject {
  if (typeof pem !== 'string' || pem.trim() === '') throw new CertificateError('key', 'is empty');
  if (Buffer.byteLength(pem) > KEY_PEM_MAX_BYTES)
    throw new CertificateError('key', `is larger than ${KEY_PEM_MAX_BYTES / 1024} KiB`);
  const labels = [...pem.matchAll(ANY_BEGIN)].map((m) => m[1] ?? '');
  if (labels.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type: 4,ENCRYPTED/.test(pem))
    throw new CertificateError('key', 'is encrypted: give the key without a passphrase (openssl pkey -in KEY)');
  const keys = labels.filter((l) => l.endsWith('PRIVATE KEY'));
  if (keys.length === 0) {
    const what = labels.includes('CERTIFICATE') ? ' (it holds a certificate: that goes in the cert field)' : '';
    throw new CertificateError('key', `is not a PEM private key (no BEGIN PRIVATE KEY line)${what}`);
  }
  if (keys.length > 1) throw new CertificateError('key', `holds ${keys.length} private keys; give one`);
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // Node's messages name the decoder's failure, never the key's bytes
    throw new CertificateError('key', `does not parse (${(err as Error).message})`);
  }
}

let nodeRoots: X509Certificate[] | undefined;

/** Checks that each certificate is issued by the next; returns the self-signed one it ends in (in the chain or trusted). */
function checkChain(chain: readonly X509Certificate[], trusted: readonly X509Certificate[]): X509Certificate {
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const next = chain[i + 1] as X509Certificate;
    if (!cert.checkIssued(next) || !cert.verify(next.publicKey)) {
      throw new CertificateError(
        'cert',
        `certificate ${i + 1} (${subject(cert)}) is not issued by certificate ${i + 2} (${subject(next)}): the chain must be leaf first, each followed by its issuer`,
      );
    }
    if (!next.ca) throw new CertificateError('cert', `certificate ${i + 2} (${subject(next)}) is not a CA certificate`);
  }
  const last = chain[chain.length - 1] as X509Certificate;
  if (last.checkIssued(last) && last.verify(last.publicKey)) return last;
  nodeRoots ??= rootCertificates.map((pem) => new X509Certificate(pem));
  for (const root of [...trusted, ...nodeRoots]) {
    if (last.checkIssued(root) && last.verify(root.publicKey)) return root;
  }
  throw new CertificateError(
    'cert',
    `the chain is incomplete: certificate ${chain.length} (${subject(last)}) is issued by ${oneLine(last.issuer)}, which is neither in the chain nor a trusted root; append the intermediate certificates after the leaf`,
  );
}

/**
 * What OpenSSL, as a TLS client trusting only `anchor`, says of the chain: null when it
 * verifies, else its reason. The checks above name what is wrong in our words; this one holds
 * the chain to everything a client checks besides (path length and name constraints, key
 * usage, extended key usage for a TLS server, algorithms), over an in-memory handshake.
 */
function tlsClientVerdict(chain: string, key: KeyObject, anchor: string): Promise<string | null> {
  const [serverSide, clientSide] = duplexPair();
  const server = new TLSSocket(serverSide, {
    isServer: true,
    secureContext: createSecureContext({ cert: chain, key: key.export({ type: 'pkcs8', format: 'pem' }) }),
  });
  server.on('error', () => undefined); // the client's verdict is what counts
  return new Promise<string | null>((resolve) => {
    const client = connect({ socket: clientSide, ca: [anchor], checkServerIdentity: () => undefined });
    const done = (verdict: string | null): void => {
      clearTimeout(timer);
      client.destroy();
      server.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => done('the verifying handshake did not finish'), 10_000);
    client.once('secureConnect', () => done(client.authorized ? null : `${String(client.authorizationError)}`));
    client.once('error', (err: NodeJS.ErrnoException) => done(`${err.message} (${err.code ?? 'TLS'})`));
  });
}

function checkValidity(cert: X509Certificate, index: number, now: Date): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  const which = `certificate ${index + 1} (${subject(cert)})`;
  if (now < from) throw new CertificateError('cert', `${which} is not valid before ${from.toISOString()}`);
  if (now > to) throw new CertificateError('cert', `${which} expired on ${to.toISOString()}`);
}

function subject(cert: X509Certificate): string {
  return oneLine(cert.subject) || 'no subject';
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).reverse().join(', ');
}
