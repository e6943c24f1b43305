import { Inject, Injectable } from '@nestjs/common';
import {
  type App,
  Certificate,
  CertificateError,
  Domain,
  coveredDomains,
  ensureSealingKey,
  seal,
  sealingKeyFile,
  servingCerts,
  transaction,
  type ValidCertificate,
  validateCertificate,
} from '@paas/platform';
import { MAX_CERTS_PER_APP } from '@paas/platform/certs';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { CertPublisher } from './cert-publisher';
import type { AddedCertView, CertView } from './certs.dto';

/**
 * An app's TLS certificates: uploaded (validated by libs/platform certs/validate.ts, the key
 * sealed under $PAAS_ROOT's sealing key with the row's id bound to it), listed, removed, and
 * published to the routers after each change. No answer, error or log line carries a key.
 */
@Injectable()
export class CertsService {
  private sealingKey: Buffer | undefined;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(CertPublisher) private readonly publisher: CertPublisher,
  ) {}

  async list(app: App): Promise<CertView[]> {
    const { certs, domains } = await this.state(this.dataSource.manager, app.id);
    const serving = servingCerts(certs, domains);
    return certs.map((c) => view(c, domains, serving));
  }

  async get(app: App, id: string): Promise<CertView> {
    const { certs, domains } = await this.state(this.dataSource.manager, app.id);
    const cert = certs.find((c) => c.id === id);
    if (!cert) throw ApiError.notFound(`certificate '${id}' of app '${app.name}' not found`);
    return view(cert, domains, servingCerts(certs, domains));
  }

  async add(app: App, input: { cert: string; key: string }): Promise<AddedCertView> {
    const id = randomUUID();
    // validated before the transaction (a verifying TLS handshake must not hold the database);
    // a domain removed meanwhile only changes what the certificate serves
    const { domains: known, certs: stored } = await this.state(this.dataSource.manager, app.id);
    // every one may serve a domain: the router's table takes MAX_CERTS_PER_APP of an app
    if (stored.length >= MAX_CERTS_PER_APP)
      throw ApiError.unprocessable(
        `app '${app.name}' has ${stored.length} certificates, the most it may have: remove one first (certs:remove)`,
      );
    let valid: ValidCertificate;
    try {
      valid = await validateCertificate(input, { domains: known, trusted: this.config.certsTrusted });
    } catch (err) {
      if (err instanceof CertificateError) throw ApiError.invalidField(err.field, 'certificate', err.message);
      throw err;
    }
    const { before, after, domains, certs } = await transaction(this.dataSource, async (manager) => {
      const state = await this.state(manager, app.id);
      const same = state.certs.find((c) => c.fingerprint === valid.fingerprint);
      if (same) throw ApiError.conflict(`this certificate is stored already, as '${same.id}'`);
      await manager.insert(Certificate, {
        id,
        appId: app.id,
        names: valid.names,
        chain: valid.chain,
        key: seal(this.key(), valid.key, id),
        source: 'manual',
        issuer: valid.issuer.slice(0, 1024),
        notBefore: valid.notBefore.toISOString(),
        notAfter: valid.notAfter.toISOString(),
        fingerprint: valid.fingerprint,
        // to the millisecond (SQLite's default is to the second): which of two uploads is newer decides what serves
        createdAt: new Date(),
      });
      const now = await this.state(manager, app.id);
      return {
        before: servingCerts(state.certs, state.domains),
        after: servingCerts(now.certs, now.domains),
        ...now,
      };
    });
    await this.publisher.publish(app.id);
    const cert = certs.find((c) => c.id === id) as Certificate;
    const replaced = new Map<string, string[]>();
    for (const [domain, by] of after) {
      const was = before.get(domain);
      if (by === id && was !== undefined) replaced.set(was, [...(replaced.get(was) ?? []), domain]);
    }
    const replaces = [...replaced].map(([old, on]) => ({ id: old, domains: on }));
    const serves = [...after].filter(([, by]) => by === id).map(([d]) => d);
    // an upload wins over automatic certificates (acme-issuer.ts MANUAL_WINS): say which it takes
    const overridesAuto = app.certsAuto ? serves : [];
    const overrides = overridesAuto.length
      ? `; automatic certificates leave ${overridesAuto.join(', ')} to it until it expires or is removed`
      : '';
    await logAppEvent(
      this.redis,
      app.id,
      `Added certificate ${id} for ${cert.names.join(', ')} (${cert.fingerprint}), serving ${serves.join(', ') || 'no domain'}${replaces.map((r) => `; replaces ${r.id} for ${r.domains.join(', ')}`).join('')}${overrides}`,
    );
    return { ...view(cert, domains, after), replaces, overridesAuto };
  }

  async remove(app: App, id: string): Promise<CertView> {
    const removed = await transaction(this.dataSource, async (manager) => {
      const { certs, domains } = await this.state(manager, app.id);
      const cert = certs.find((c) => c.id === id);
      if (!cert) throw ApiError.notFound(`certificate '${id}' of app '${app.name}' not found`);
      await manager.delete(Certificate, { id, appId: app.id });
      return view(cert, domains, servingCerts(certs, domains));
    });
    await this.publisher.publish(app.id);
    await logAppEvent(this.redis, app.id, `Removed certificate ${id} for ${removed.names.join(', ')}`);
    return removed;
  }

  private async state(manager: EntityManager, appId: string): Promise<{ certs: Certificate[]; domains: string[] }> {
    const certs = await manager.find(Certificate, { where: { appId }, order: { createdAt: 'ASC', id: 'ASC' } });
    const domains = (await manager.find(Domain, { where: { appId }, order: { hostname: 'ASC' } })).map(
      (d) => d.hostname,
    );
    return { certs, domains };
  }

  private key(): Buffer {
    this.sealingKey ??= ensureSealingKey(sealingKeyFile(this.config.paths.root));
    return this.sealingKey;
  }
}

function view(cert: Certificate, domains: readonly string[], serving: ReadonlyMap<string, string>): CertView {
  return {
    id: cert.id,
    names: cert.names,
    domains: coveredDomains(cert.names, domains),
    serving: [...serving].filter(([, id]) => id === cert.id).map(([d]) => d),
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    source: cert.source,
    fingerprint: cert.fingerprint,
    createdAt: cert.createdAt,
  };
}
