import { Inject, Injectable } from '@nestjs/common';
import { type App, Domain, isUniqueViolation } from '@paas/platform';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { API_CONFIG, type ApiConfig } from '../config';
import { CertPublisher } from '../certs/cert-publisher';
import { DATA_SOURCE } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { DomainView } from './domains.dto';

@Injectable()
export class DomainsService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(CertPublisher) private readonly certs: CertPublisher,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  async list(app: App): Promise<DomainView[]> {
    return (await this.dataSource.manager.find(Domain, { where: { appId: app.id }, order: { hostname: 'ASC' } })).map(
      view,
    );
  }

  /**
   * A custom domain routes to the app. Names under the platform's own domain are refused:
   * `other.<domain>` is another app's address, and the router must not be able to mix them up.
   */
  async add(app: App, hostname: string): Promise<DomainView> {
    if (hostname === this.config.domain || hostname.endsWith(`.${this.config.domain}`)) {
      throw ApiError.unprocessable(
        `'${hostname}' is under the platform's domain ${this.config.domain}; apps have APP.${this.config.domain} already`,
      );
    }
    const domain = this.dataSource.manager.create(Domain, { id: randomUUID(), appId: app.id, hostname });
    try {
      await this.dataSource.manager.insert(Domain, domain);
    } catch (err) {
      if (isUniqueViolation(err)) throw ApiError.conflict(`domain '${hostname}' is already in use`);
      throw err;
    }
    // the routers learn the host from the next pass: ask for it now, not at the period's end
    this.scheduler.kick();
    // a stored certificate may cover the new domain
    await this.certs.publish(app.id);
    // ordered by the leader's ACME issuer now (the router answers its challenges for any host)
    if (app.certsAuto) this.scheduler.wakeAcmeIssuer();
    return view(await this.dataSource.manager.findOneByOrFail(Domain, { id: domain.id }));
  }

  async remove(app: App, hostname: string): Promise<DomainView> {
    const domain = await this.dataSource.manager.findOne(Domain, {
      where: { appId: app.id, hostname: hostname.toLowerCase() },
    });
    if (!domain) throw ApiError.notFound(`domain '${hostname}' of app '${app.name}' not found`);
    await this.dataSource.manager.delete(Domain, { id: domain.id });
    this.scheduler.kick();
    // its certificate is no longer served for it
    await this.certs.publish(app.id);
    return view(domain);
  }
}

function view(domain: Domain): DomainView {
  return { id: domain.id, hostname: domain.hostname, createdAt: domain.createdAt };
}
