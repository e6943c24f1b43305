import { Inject, Injectable } from '@nestjs/common';
import { App, Certificate, Domain, servingCerts, transaction } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource, EntityManager } from 'typeorm';
import { ApiError } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { SchedulerService } from '../scheduler/scheduler.service';
import type { CertsAutoView, DomainCertStateView } from './certs-auto.dto';

/**
 * `paas certs:auto`: an app's switch for certificates over ACME and each custom domain's state.
 * The scheduler leader's issuer (acme-issuer.ts) does the work; enabling asks it for a round at
 * once (SchedulerService.wakeAcmeIssuer: the leader may be another api). Disabling stops new orders and renewals
 * and forgets the domains' states; certificates already obtained keep serving until they expire
 * (or are removed with certs:remove), as Heroku's ACM does. A domain an uploaded certificate
 * serves is `manual`: the issuer leaves it to that one (acme-issuer.ts MANUAL_WINS).
 */
@Injectable()
export class CertsAutoService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(SchedulerService) private readonly scheduler: SchedulerService,
  ) {}

  async status(app: App): Promise<CertsAutoView> {
    return this.view(this.dataSource.manager, app.id);
  }

  async enable(app: App): Promise<CertsAutoView> {
    if (this.config.acme.directoryUrl === null)
      throw ApiError.unprocessable(
        'automatic certificates are not set up on this platform: the operator sets PAAS_ACME_DIRECTORY (the ACME directory URL) on the api',
      );
    const view = await transaction(this.dataSource, async (em) => {
      await em.update(App, { id: app.id }, { certsAuto: true });
      await em
        .createQueryBuilder()
        .update(Domain)
        .set({ acmeState: 'waiting' })
        .where({ appId: app.id })
        .andWhere('"acmeState" IS NULL')
        .execute();
      return this.view(em, app.id);
    });
    this.scheduler.wakeAcmeIssuer();
    if (!app.certsAuto) await logAppEvent(this.redis, app.id, 'Automatic certificates enabled');
    return view;
  }

  async disable(app: App): Promise<CertsAutoView> {
    const view = await transaction(this.dataSource, async (em) => {
      await em.update(App, { id: app.id }, { certsAuto: false });
      await em.update(
        Domain,
        { appId: app.id },
        { acmeState: null, acmeProblem: null, acmeAttempts: 0, acmeLastAttemptAt: null, acmeNextAttemptAt: null },
      );
      return this.view(em, app.id);
    });
    if (app.certsAuto)
      await logAppEvent(
        this.redis,
        app.id,
        'Automatic certificates disabled: the certificates obtained keep serving until they expire',
      );
    return view;
  }

  private async view(em: EntityManager, appId: string): Promise<CertsAutoView> {
    const app = await em.findOneByOrFail(App, { id: appId });
    const domains = await em.find(Domain, { where: { appId }, order: { hostname: 'ASC' } });
    const certs = await em.find(Certificate, { where: { appId } });
    const serving = servingCerts(
      certs,
      domains.map((d) => d.hostname),
    );
    return { enabled: app.certsAuto, domains: domains.map((d) => domainState(app.certsAuto, d, certs, serving)) };
  }
}

function domainState(
  enabled: boolean,
  domain: Domain,
  certs: readonly Certificate[],
  serving: ReadonlyMap<string, string>,
): DomainCertStateView {
  const cert = certs.find((c) => c.id === serving.get(domain.hostname));
  // what serves now decides `manual` (acme-issuer.ts MANUAL_WINS), not the issuer's next round
  const manual = enabled && cert?.source === 'manual';
  const state = manual ? 'manual' : domain.acmeState === 'manual' ? 'waiting' : domain.acmeState;
  return {
    hostname: domain.hostname,
    state,
    certificateId: cert?.id ?? null,
    certificateSource: cert?.source ?? null,
    expiresAt: cert?.notAfter ?? null,
    problem:
      !manual && domain.acmeProblem
        ? { ...domain.acmeProblem, subproblems: [...domain.acmeProblem.subproblems] }
        : null,
    attempts: domain.acmeAttempts,
    lastAttemptAt: domain.acmeLastAttemptAt,
    nextAttemptAt: manual ? (cert?.notAfter ?? null) : domain.acmeNextAttemptAt,
  };
}
