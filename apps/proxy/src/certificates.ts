/**
 * Which certificate a TLS client hello gets.
 *
 * The primary opens the certificate table's sealed keys (`openCerts`: a key that does not
 * open, or is not the certificate's, is reported and left out) and hands the opened list to
 * every worker, whose `Certificates` picks a secure context for each SNI name:
 *
 * 1. the route table says which app owns the name (Routing.lookup: a custom host, or
 *    APP.<domain>); a certificate is served only for the names its entry lists AND that the
 *    route table gives to that same app, so an entry naming another app's host is never
 *    served for it;
 * 2. among that app's certificates, the one naming the host exactly, else the one whose
 *    `*.parent` covers it (one label, RFC 6125 §6.4.3); of several, the one that lasts longest;
 * 3. else the operator's default pair (PAAS_ROUTER_TLS_CERT/KEY) when there is one, else the
 *    handshake fails. A client without SNI gets the default pair or a failed handshake too:
 *    never some app's certificate.
 *
 * Secure contexts are made once per certificate (keyed by id and content) and kept while the
 * table keeps it.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { type SecureContext, createSecureContext } from 'node:tls';
import type { TableCert } from '@paas/platform/certs';
import { type KeyPair, unseal } from '@paas/platform/tls';
import type { OpenedCert } from './messages';
import type { Routing } from './routing';

/** Both listeners' floor; the client hello's SNI switch keeps it. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/**
 * The table's certificates with their keys opened under `sealingKey` (associated data = id).
 * A key that does not open or does not match its certificate is reported and left out.
 */
export function openCerts(
  table: ReadonlyMap<string, readonly TableCert[]>,
  sealingKey: Buffer,
): { certs: OpenedCert[]; problems: string[] } {
  const certs: OpenedCert[] = [];
  const problems: string[] = [];
  for (const [app, list] of table) {
    for (const entry of list) {
      const where = `certificate ${JSON.stringify(entry.id)} of app ${app}`;
      try {
        const key = unseal(sealingKey, entry.key, entry.id);
        const leaf = new X509Certificate(entry.cert);
        if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error('its key is not the certificate’s');
        certs.push({ app, id: entry.id, domains: entry.domains, cert: entry.cert, key, notAfter: entry.notAfter });
      } catch (err) {
        problems.push(`${where}: skipped: ${(err as Error).message}`);
      }
    }
  }
  return { certs, problems };
}

interface Served {
  readonly context: SecureContext;
  readonly notAfter: number;
}

interface AppCertificates {
  readonly exact: Map<string, Served>;
  /** `*.parent` by parent. */
  readonly wildcard: Map<string, Served>;
}

function remember(map: Map<string, Served>, name: string, served: Served): void {
  const other = map.get(name);
  if (!other || other.notAfter < served.notAfter) map.set(name, served);
}

export class Certificates {
  private byApp = new Map<string, AppCertificates>();
  private contexts = new Map<string, SecureContext>();
  readonly defaultContext: SecureContext | null;

  constructor(
    private readonly routing: Routing,
    defaultPair: KeyPair | null,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.defaultContext = defaultPair ? this.context(defaultPair.cert, defaultPair.key) : null;
  }

  private context(cert: string, key: string): SecureContext {
    return createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION });
  }

  /** Replaces the served certificates; contexts of those that stay are kept. */
  setCerts(certs: readonly OpenedCert[]): void {
    const contexts = new Map<string, SecureContext>();
    const byApp = new Map<string, AppCertificates>();
    for (const cert of certs) {
      const id = `${cert.id} ${createHash('sha256').update(cert.cert).update('\0').update(cert.key).digest('hex')}`;
      let context = contexts.get(id) ?? this.contexts.get(id);
      if (!context) {
        try {
          context = this.context(cert.cert, cert.key);
        } catch (err) {
          this.warn(`certificate ${JSON.stringify(cert.id)} of app ${cert.app}: skipped: ${(err as Error).message}`);
          continue;
        }
      }
      contexts.set(id, context);
      let app = byApp.get(cert.app);
      if (!app) byApp.set(cert.app, (app = { exact: new Map(), wildcard: new Map() }));
      const served = { context, notAfter: Date.parse(cert.notAfter) || 0 };
      for (const domain of cert.domains) {
        if (domain.startsWith('*.')) remember(app.wildcard, domain.slice(2), served);
        else remember(app.exact, domain, served);
      }
    }
    this.contexts = contexts;
    this.byApp = byApp;
  }

  /** How many certificates are served (the default pair aside). */
  get size(): number {
    return this.contexts.size;
  }

  /** The context for a client hello naming `servername` (undefined: none, the handshake fails). */
  select(servername: string | undefined): SecureContext | undefined {
    if (servername) {
      const found = this.routing.lookup(servername);
      if (found.kind === 'app') {
        const app = this.byApp.get(found.app.name);
        if (app) {
          const host = found.host;
          const dot = host.indexOf('.');
          const served = app.exact.get(host) ?? (dot > 0 ? app.wildcard.get(host.slice(dot + 1)) : undefined);
          if (served) return served.context;
        }
      }
    }
    return this.defaultContext ?? undefined;
  }
}
