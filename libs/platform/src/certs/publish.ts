/**
 * What the routers serve of an app's certificates: the stored rows (model Certificate) turned
 * into the app's entry of the certificate table (table.ts), and the leader's upkeep of the
 * whole table.
 *
 * Each of the app's custom domains is served by ONE certificate: the newest stored one
 * (createdAt, then the later notAfter, then the id) that covers it and has not expired. A
 * certificate is published with exactly the domains it serves now, so an upload for the same
 * domains takes the older one's place, and a domain removed from the app stops being served
 * although the certificate still names it. A certificate that serves nothing is not published.
 *
 * Whoever changes an app's certificates or domains (api certs, domains, apps) publishes that
 * app's entry right after its transaction (`publishApp`); the api that leads the scheduler
 * writes the whole table at the start of its term and again whenever it finds the table's
 * version gone back (Redis restarted without its data), as it does the route table
 * (`CertTableKeeper`). Keys are copied sealed: the table seals them under the same key and
 * associated data (the id) as the database.
 */
import { type EntityManager, In } from 'typeorm';
import { App, Certificate, Domain } from '../model/entities';
import type { Redis } from 'ioredis';
import {
  type TableCert,
  certTableVersion,
  readCertTable,
  rebuildCertTable,
  removeAppCerts,
  setAppCerts,
} from './table';
import { nameCovers } from './validate';

/** The certificate table as the control plane writes it (table.ts over Redis). */
export interface CertTableWriter {
  /** Each returns the table's version after it (null: there was nothing to remove). */
  set(app: string, certs: readonly TableCert[]): Promise<number>;
  remove(app: string): Promise<number | null>;
  /** Replaces the whole table at once. */
  /** The whole table at once, its version past `past` (what this writer wrote last). */
  rebuild(all: ReadonlyMap<string, readonly TableCert[]>, past: number): Promise<number>;
  version(): Promise<number>;
  /** Every app's entry as the table holds it. */
  read(): Promise<ReadonlyMap<string, readonly TableCert[]>>;
}

/** The table over Redis (table.ts). */
export class RedisCertTable implements CertTableWriter {
  constructor(private readonly redis: Redis) {}

  set(app: string, certs: readonly TableCert[]): Promise<number> {
    return setAppCerts(this.redis, app, certs);
  }

  remove(app: string): Promise<number | null> {
    return removeAppCerts(this.redis, app);
  }

  rebuild(all: ReadonlyMap<string, readonly TableCert[]>, past: number): Promise<number> {
    return rebuildCertTable(this.redis, all, past);
  }

  version(): Promise<number> {
    return certTableVersion(this.redis);
  }

  async read(): Promise<ReadonlyMap<string, readonly TableCert[]>> {
    return (await readCertTable(this.redis)).certs;
  }
}

type Stored = Pick<Certificate, 'id' | 'names' | 'chain' | 'key' | 'notAfter' | 'createdAt'>;

/** Which stored certificate serves each domain: domain -> certificate id (domains none covers are absent). */
export function servingCerts(
  certs: readonly Stored[],
  domains: readonly string[],
  now = new Date(),
): Map<string, string> {
  const newest = [...certs]
    .filter((c) => Date.parse(c.notAfter) > now.getTime())
    .sort(
      (a, b) =>
        b.createdAt.getTime() - a.createdAt.getTime() ||
        Date.parse(b.notAfter) - Date.parse(a.notAfter) ||
        (a.id < b.id ? 1 : -1),
    );
  const serving = new Map<string, string>();
  for (const domain of [...domains].sort()) {
    const cert = newest.find((c) => c.names.some((n) => nameCovers(n, domain)));
    if (cert) serving.set(domain, cert.id);
  }
  return serving;
}

/** An app's entry: its certificates that serve some domain, each with the domains it serves. */
export function publishedCerts(certs: readonly Stored[], domains: readonly string[], now = new Date()): TableCert[] {
  const serving = servingCerts(certs, domains, now);
  return certs.flatMap((c) => {
    const served = [...serving].filter(([, id]) => id === c.id).map(([domain]) => domain);
    return served.length ? [{ id: c.id, domains: served, cert: c.chain, key: c.key, notAfter: c.notAfter }] : [];
  });
}

/** The entry of app `appId` as the database holds it now (null: no such app). */
export async function appCertEntry(
  manager: EntityManager,
  appId: string,
  now = new Date(),
): Promise<{ app: string; certs: TableCert[] } | null> {
  const app = await manager.findOneBy(App, { id: appId });
  if (!app) return null;
  const certs = await manager.find(Certificate, { where: { appId }, order: { createdAt: 'ASC', id: 'ASC' } });
  const domains = (await manager.find(Domain, { where: { appId }, select: { hostname: true } })).map((d) => d.hostname);
  return { app: app.name, certs: publishedCerts(certs, domains, now) };
}

/** Every app's entry that has something to serve, by app name. */
export async function allCertEntries(manager: EntityManager, now = new Date()): Promise<Map<string, TableCert[]>> {
  const certs = await manager.find(Certificate, { order: { createdAt: 'ASC', id: 'ASC' } });
  const appIds = [...new Set(certs.map((c) => c.appId))];
  if (appIds.length === 0) return new Map();
  const apps = await manager.find(App, { where: { id: In(appIds) } });
  const domains = await manager.find(Domain, { where: { appId: In(appIds) } });
  const all = new Map<string, TableCert[]>();
  for (const app of apps.sort((a, b) => a.name.localeCompare(b.name))) {
    const entry = publishedCerts(
      certs.filter((c) => c.appId === app.id),
      domains.filter((d) => d.appId === app.id).map((d) => d.hostname),
      now,
    );
    if (entry.length) all.set(app.name, entry);
  }
  return all;
}

/** Writes app `appId`'s entry as the database holds it now: set, or removed when it serves nothing. */
export async function publishApp(manager: EntityManager, table: CertTableWriter, appId: string): Promise<void> {
  const entry = await appCertEntry(manager, appId);
  if (!entry) return;
  if (entry.certs.length) await table.set(entry.app, entry.certs);
  else await table.remove(entry.app);
}

/** How often the leader compares the whole table with the database (CertTableKeeper). */
export const CERT_TABLE_SYNC_MS = 60_000;

/**
 * The leader's upkeep of the whole table: written whole at its first `keep` (a new term), and
 * again when the table's version is lower than this keeper last wrote or saw (the table was
 * lost; other apis' writes only move it up). Every `syncMs` it also compares each entry with
 * the database and rewrites those that differ: an entry whose publishing failed (Redis away
 * for a moment: the change itself was committed), and certificates that expired since.
 */
export class CertTableKeeper {
  private seen: number | null = null;
  private syncedAt = 0;

  constructor(
    private readonly manager: EntityManager,
    private readonly table: CertTableWriter,
    private readonly warn: (message: string) => void,
    private readonly syncMs = CERT_TABLE_SYNC_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  async keep(): Promise<void> {
    const version = await this.table.version();
    if (this.seen !== null && version >= this.seen) {
      this.seen = version;
      if (this.clock() - this.syncedAt >= this.syncMs) await this.sync();
      return;
    }
    const all = await allCertEntries(this.manager);
    if (this.seen !== null) {
      this.warn(
        `the certificate table was lost (Redis restarted without it?): writing ${all.size} apps' certificates again`,
      );
    }
    this.seen = await this.table.rebuild(all, this.seen ?? 0);
    this.syncedAt = this.clock();
  }

  /** Puts right each entry that differs from the database (read after the table: a change made meanwhile is published by its own writer). */
  private async sync(): Promise<void> {
    this.syncedAt = this.clock();
    const held = await this.table.read();
    const wanted = await allCertEntries(this.manager);
    for (const [app, certs] of wanted) {
      if (JSON.stringify(held.get(app) ?? null) !== JSON.stringify(certs)) {
        this.warn(`the certificate table's entry of ${app} differs from the database: writing it again`);
        this.seen = await this.table.set(app, certs);
      }
    }
    for (const app of held.keys()) {
      if (wanted.has(app)) continue;
      this.warn(`the certificate table holds ${app}, which serves no certificate: removing it`);
      this.seen = (await this.table.remove(app)) ?? this.seen;
    }
  }
}
