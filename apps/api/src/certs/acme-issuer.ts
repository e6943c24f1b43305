/**
 * Automatic certificates (`paas certs:auto`): the scheduler leader's issuer. Each round it looks
 * at every custom domain of the apps with `certsAuto` and, by the renewal policy
 * (libs/platform certs/acme-policy.ts), records a domain whose certificate is good as `issued`
 * (next attempt: its renewal time) and orders one certificate per domain that needs one and is
 * due, ONE order at a time (ACME rate limits are per account; a queue of domains waits its turn):
 *
 *   fenced: domain -> issuing, attempts + 1, next attempt now -> order (AcmeOrders, the real
 *   one is obtainCertificate with the Redis challenges every router answers) ->
 *   fenced: certificate stored (source acme, key sealed with its id; the one from ACME it renews
 *   removed, so renewals do not pile up rows) and domain -> issued,
 *   next attempt at renewAt; or domain -> failed with the problem document and the back-off's
 *   next attempt -> the app's certificate table published, a line in the app's log.
 *
 * Uploaded certificates win (`MANUAL_WINS` below): a domain an uploaded certificate serves is
 * `manual`, and the issuer neither orders for it nor replaces it, also not at its renewal time
 * nor with an order that was under way when it was uploaded; it takes over once that
 * certificate has expired or is removed.
 *
 * Only the leader issues: every write starts with the term's fence (leader.ts), so a round of
 * an old term changes nothing once another api took office. An order is not a transaction: an
 * api that stops mid-order leaves the domain `issuing` with its next attempt due and no
 * certificate row, and the next leader orders again (a certificate the CA issued meanwhile is
 * never used; Let's Encrypt allows 5 duplicates a week). The issuer's signal aborts the order
 * in flight when the term ends or the api stops.
 */
import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import {
  type AcmeProblem,
  AcmeProblemError,
  type AcmeProblemRecord,
  App,
  Certificate,
  certificateNames,
  Domain,
  needsCertificate,
  nextAttempt,
  type ObtainedCertificate,
  renewAt,
  seal,
  servingCerts,
  transaction,
} from '@paas/platform';
import { type DataSource, type EntityManager, In } from 'typeorm';

/** Where certificates come from: one order for `domains` (the real one: certs/acme.ts obtainCertificate). */
export interface AcmeOrders {
  obtain(domains: readonly string[], signal: AbortSignal): Promise<ObtainedCertificate>;
}

/** What the issuer tells the rest of the platform after a change it committed. */
export interface IssuerEvents {
  /** The app's certificates changed: publish its certificate table entry. */
  published(appId: string): Promise<void>;
  /** A line in the app's log. */
  log(appId: string, line: string): Promise<void>;
  warn(line: string): void;
}

/** The term's check, first in every write's transaction (leader.ts fence). */
export type Fence = (em: EntityManager) => Promise<void>;

/** A problem of ours for what failed without an ACME problem document. */
export const ACME_INTERNAL = 'paas:acme:internal';

export class AcmeIssuer {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly dataSource: DataSource,
    private readonly fence: Fence,
    private readonly sealingKey: () => Buffer,
    private readonly orders: AcmeOrders,
    private readonly events: IssuerEvents,
    private readonly clock: () => Date = () => new Date(),
    private readonly random: () => number = Math.random,
  ) {}

  /** Looks every `intervalMs`, and at once. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.poke(), intervalMs);
    this.timer.unref();
    this.poke();
  }

  /** A round soon (now, or right after the one running): auto was enabled, a domain added. */
  poke(): void {
    if (this.abort.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.round().catch((err: unknown) => {
            if (!this.abort.signal.aborted) this.events.warn(`ACME issuer: ${(err as Error).message}`);
          });
        } while (this.again && !this.abort.signal.aborted);
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Stops looking, aborts the order in flight and waits for the round to end. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort(new Error('the ACME issuer stopped'));
    await this.running;
  }

  /** One look at every auto domain; orders what is due, one at a time. Returns the orders made. */
  async round(): Promise<number> {
    const due = await this.survey();
    let orders = 0;
    for (const domainId of due) {
      if (this.abort.signal.aborted) break;
      if (await this.issue(domainId)) orders++;
    }
    return orders;
  }

  /** Records what needs no order (issued, waiting) and answers the domains due one, oldest attempt first. */
  private async survey(): Promise<string[]> {
    const now = this.clock();
    const manager = this.dataSource.manager;
    const apps = await manager.find(App, { where: { certsAuto: true }, select: { id: true } });
    if (apps.length === 0) return [];
    const appIds = apps.map((a) => a.id);
    const domains = await manager.find(Domain, { where: { appId: In(appIds) }, order: { hostname: 'ASC' } });
    const certs = await manager.find(Certificate, { where: { appId: In(appIds) } });
    const due: Domain[] = [];
    for (const domain of domains) {
      const held = heldCertificate(certs, domains, domain, now);
      if (held?.source === 'manual') {
        await this.leaveToUpload(domain, held);
        continue;
      }
      const need = needsCertificate(
        domain.hostname,
        held && { names: held.names, notBefore: new Date(held.notBefore), notAfter: new Date(held.notAfter) },
        now,
      );
      if (need === null && held) {
        const renewal = renewAt(new Date(held.notBefore), new Date(held.notAfter)).toISOString();
        if (domain.acmeState !== 'issued' || domain.acmeNextAttemptAt !== renewal)
          await this.write(domain.id, { acmeState: 'issued', acmeProblem: null, acmeNextAttemptAt: renewal });
        continue;
      }
      if (domain.acmeState === null) await this.write(domain.id, { acmeState: 'waiting', acmeNextAttemptAt: null });
      const next = domain.acmeNextAttemptAt === null ? 0 : Date.parse(domain.acmeNextAttemptAt);
      if (domain.acmeState === 'failed' && next > now.getTime()) continue;
      due.push(domain);
    }
    return due.sort((a, b) => (a.acmeLastAttemptAt ?? '').localeCompare(b.acmeLastAttemptAt ?? '')).map((d) => d.id);
  }

  /** One order for one domain, if it is still an auto app's and still due; whether one was made. */
  private async issue(domainId: string): Promise<boolean> {
    const started = this.clock();
    const domain = await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      const row = await em.findOneBy(Domain, { id: domainId });
      if (!row || !(await em.findOneBy(App, { id: row.appId, certsAuto: true }))) return null;
      const next = row.acmeNextAttemptAt === null ? 0 : Date.parse(row.acmeNextAttemptAt);
      if (row.acmeState === 'failed' && next > started.getTime()) return null;
      // uploaded since the survey: the next survey records it
      if (await uploadServing(em, row, started)) return null;
      const update = {
        acmeState: 'issuing' as const,
        acmeAttempts: row.acmeAttempts + 1,
        acmeLastAttemptAt: started.toISOString(),
        // an api that stops mid-order leaves it due: the next leader orders again
        acmeNextAttemptAt: started.toISOString(),
      };
      await em.update(Domain, { id: row.id }, update);
      return { ...row, ...update };
    });
    if (!domain) return false;
    let obtained: ObtainedCertificate;
    try {
      obtained = await this.orders.obtain([domain.hostname], this.abort.signal);
    } catch (err) {
      if (this.abort.signal.aborted) throw err;
      await this.failed(domain, problemOf(err));
      return true;
    }
    const id = randomUUID();
    let stored: boolean | Certificate;
    try {
      const row = certificateRow(id, domain, obtained, this.sealingKey());
      stored = await transaction(this.dataSource, async (em) => {
        await this.fence(em);
        // the domain removed, or moved to another app, meanwhile: nothing to store it for
        const now = await em.findOneBy(Domain, { id: domain.id, appId: domain.appId });
        if (!now) return false;
        // a certificate uploaded during the order: it stays the one serving (MANUAL_WINS)
        const upload = await uploadServing(em, now, this.clock());
        if (upload) {
          await em.update(Domain, { id: domain.id }, manualState(upload));
          return upload;
        }
        // the certificate it renews: from ACME, for this domain alone; the new one takes its place
        const older = await em.find(Certificate, { where: { appId: domain.appId, source: 'acme' } });
        const replaced = older.filter((c) => c.names.length === 1 && c.names[0] === domain.hostname).map((c) => c.id);
        if (replaced.length) await em.delete(Certificate, { id: In(replaced) });
        await em.insert(Certificate, row);
        await em.update(
          Domain,
          { id: domain.id },
          {
            acmeState: 'issued',
            acmeProblem: null,
            acmeAttempts: 0,
            acmeNextAttemptAt: renewAt(obtained.notBefore, obtained.notAfter).toISOString(),
          },
        );
        return true;
      });
    } catch (err) {
      if (err instanceof CertificateRowError) {
        await this.failed(domain, { type: ACME_INTERNAL, detail: err.message, subproblems: [] });
        return true;
      }
      throw err;
    }
    if (!stored) return true;
    if (stored !== true) {
      await this.events.log(
        domain.appId,
        `Certificate obtained over ACME for ${domain.hostname} not kept: certificate ${stored.id}, uploaded meanwhile, serves it until ${stored.notAfter} or until it is removed`,
      );
      return true;
    }
    await this.events.published(domain.appId);
    await this.events.log(
      domain.appId,
      `Certificate ${id} obtained over ACME for ${domain.hostname}, valid until ${obtained.notAfter.toISOString()}`,
    );
    return true;
  }

  private async failed(domain: Domain, problem: AcmeProblemRecord): Promise<void> {
    const next = nextAttempt(Math.max(domain.acmeAttempts, 1), this.clock(), this.random).toISOString();
    await this.write(domain.id, { acmeState: 'failed', acmeProblem: problem, acmeNextAttemptAt: next });
    await this.events.log(
      domain.appId,
      `Certificate for ${domain.hostname} not obtained (attempt ${domain.acmeAttempts}): ${problem.detail}; next attempt at ${next}`,
    );
  }

  /** Records that an uploaded certificate serves `domain` (MANUAL_WINS); says so in the app's log once. */
  private async leaveToUpload(domain: Domain, upload: Certificate): Promise<void> {
    const state = manualState(upload);
    if (domain.acmeState === state.acmeState && domain.acmeNextAttemptAt === state.acmeNextAttemptAt) return;
    await this.write(domain.id, state);
    if (domain.acmeState !== 'manual')
      await this.events.log(
        domain.appId,
        `Certificate ${upload.id}, uploaded, serves ${domain.hostname}: automatic certificates leave it alone until it expires (${upload.notAfter}) or is removed`,
      );
  }

  /** A fenced update of one domain's state. */
  private async write(domainId: string, state: Partial<Domain>): Promise<void> {
    await transaction(this.dataSource, async (em) => {
      await this.fence(em);
      await em.update(Domain, { id: domainId }, state);
    });
  }
}

/**
 * MANUAL_WINS: an uploaded certificate serving a domain is kept, and automatic certificates
 * wait for it to expire or be removed. Heroku's ACM and uploaded certificates exclude each
 * other for an app (an app with an uploaded certificate gets no ACM; heroku/roadmap#52 asks
 * for the mix), and its users switch by hand: certs:auto:disable before certs:add, certs:remove
 * before ACM takes a domain over. Here they mix per domain, with what a Heroku user expects
 * kept: what they uploaded is what serves, never swapped behind their back (not at its renewal
 * time, not by an order that was under way when they uploaded), and the domain says so
 * (`manual`, with its expiry) in certs:auto; the other domains keep their automatic ones.
 */
function manualState(upload: Certificate): Partial<Domain> {
  return { acmeState: 'manual', acmeProblem: null, acmeAttempts: 0, acmeNextAttemptAt: upload.notAfter };
}

/** The uploaded certificate serving `domain` at `now`, read in `em`'s transaction; undefined if none. */
async function uploadServing(em: EntityManager, domain: Domain, now: Date): Promise<Certificate | undefined> {
  const certs = await em.find(Certificate, { where: { appId: domain.appId } });
  const domains = await em.find(Domain, { where: { appId: domain.appId } });
  const held = heldCertificate(certs, domains, domain, now);
  return held?.source === 'manual' ? held : undefined;
}

/** The certificate that serves `domain` now, as publish.ts picks it. */
function heldCertificate(
  certs: readonly Certificate[],
  domains: readonly Domain[],
  domain: Domain,
  now: Date,
): Certificate | undefined {
  const appCerts = certs.filter((c) => c.appId === domain.appId);
  const appDomains = domains.filter((d) => d.appId === domain.appId).map((d) => d.hostname);
  const id = servingCerts(appCerts, appDomains, now).get(domain.hostname);
  return appCerts.find((c) => c.id === id);
}

function problemOf(err: unknown): AcmeProblem {
  if (err instanceof AcmeProblemError) return err.problem;
  return { type: ACME_INTERNAL, detail: err instanceof Error ? err.message : String(err), subproblems: [] };
}

class CertificateRowError extends Error {}

/** The row of an obtained certificate; what the CA sent is checked as an upload's leaf would be. */
function certificateRow(id: string, domain: Domain, obtained: ObtainedCertificate, sealingKey: Buffer): Certificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(
      /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(obtained.certPem)?.[0] ?? '',
    );
  } catch (err) {
    throw new CertificateRowError(`the certificate the ACME server sent does not parse: ${(err as Error).message}`);
  }
  const names = certificateNames(leaf);
  if (!names.includes(domain.hostname))
    throw new CertificateRowError(
      `the certificate the ACME server sent names ${names.join(', ')}, not ${domain.hostname}`,
    );
  if (!leaf.checkPrivateKey(createPrivateKey(obtained.keyPem)))
    throw new CertificateRowError('the certificate the ACME server sent is not for the key of its order');
  return Object.assign(new Certificate(), {
    id,
    appId: domain.appId,
    names,
    chain: obtained.certPem,
    key: seal(sealingKey, obtained.keyPem, id),
    source: 'acme' as const,
    issuer: leaf.issuer.split('\n').filter(Boolean).reverse().join(', ').slice(0, 1024),
    notBefore: obtained.notBefore.toISOString(),
    notAfter: obtained.notAfter.toISOString(),
    fingerprint: leaf.fingerprint256,
    // to the millisecond: the newest certificate serves (publish.ts)
    createdAt: new Date(),
  });
}
