/**
 * The certificate table: the contract between the control plane, which writes each app's
 * certificates (uploaded or obtained over ACME), and the routers, which serve them. It is a
 * versioned table (versioned-table.ts, the same protocol as the route table in routes.ts):
 *
 *   paas:certs          hash     app name -> JSON certificates of that app (below)
 *   paas:certs:version  string   a counter; every change to the hash increments it
 *   paas:certs          channel  every change publishes {"version":N,"app":"NAME"}
 *
 * One app's entry, as stored:
 *
 *   {"app":"shop",
 *    "certs":[{"id":"c-17",                              the control plane's id of it
 *              "domains":["shop.example.com","*.shop.example.com"],   lower case
 *              "cert":"-----BEGIN CERTIFICATE-----...",  PEM chain, leaf first
 *              "key":"v1:...",                           sealed (tls/sealed.ts), associated data = id
 *              "notAfter":"2027-03-01T00:00:00.000Z"}]}
 *
 * Private keys are sealed at rest: only a process holding the sealing key (the routers, the
 * api) opens them. A router serves a certificate only for the hosts its entry names AND that
 * the route table gives to the same app, so a tenant's entry naming another app's host is
 * never served for that host.
 *
 * Writers (`setAppCerts`, `removeAppCerts`, `rebuildCertTable`) refuse an entry that does not
 * validate; readers (`CertWatcher`, `readCertTable`) skip and report a certificate that does
 * not, keeping the rest of the app's list, and skip an app's entry that does not parse at all.
 */
import type { Redis } from 'ioredis';
import { PaasError } from '@paas/errors';
import { ROUTABLE_APP_NAME_RULE, isRoutableAppName } from '../names';
import {
  type InvalidEntry,
  type TableSpec,
  TableWatcher,
  type TableWatcherOptions,
  describe,
  readEntry,
  readTable,
  rebuildTable,
  tableVersion,
  writeEntry,
} from '../versioned-table';

export const CERTS_KEY = 'paas:certs';
export const CERTS_VERSION_KEY = 'paas:certs:version';
export const CERTS_CHANNEL = 'paas:certs';

/** Limits that keep one entry from flooding every router's memory. */
export const MAX_CERTS_PER_APP = 50;
export const MAX_DOMAINS_PER_CERT = 100;
const MAX_CHAIN_BYTES = 64 * 1024;
const MAX_SEALED_KEY_BYTES = 16 * 1024;

export interface TableCert {
  readonly id: string;
  readonly domains: readonly string[];
  /** PEM chain, leaf first. */
  readonly cert: string;
  /** Sealed with tls/sealed.ts, associated data = id. */
  readonly key: string;
  /** ISO 8601. */
  readonly notAfter: string;
}

/** A certificate that cannot be stored or was stored broken; the message says which app and field. */
export class CertTableError extends PaasError {
  constructor(
    readonly app: string,
    reason: string,
  ) {
    super('invalid_params', `certificates of app ${JSON.stringify(app)}: ${reason}`);
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
/** A host name of two labels or more, or a wildcard of one label over one. */
const DOMAIN = new RegExp(`^(?=.{1,253}$)(\\*\\.)?${LABEL}(\\.${LABEL})+$`);
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/;

/** Checks one certificate as written or read; returns it normalized (domains lower case). */
export function validateTableCert(app: string, input: unknown, where = 'certificate'): TableCert {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CertTableError(app, `${where} ${describe(input)} is not an object`);
  }
  const { id, domains, cert, key, notAfter } = input as Record<string, unknown>;
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new CertTableError(app, `${where}.id ${describe(id)} is not 1-200 letters, digits and ._:-`);
  }
  const at = `${where} ${JSON.stringify(id)}`;
  if (!Array.isArray(domains) || domains.length === 0 || domains.length > MAX_DOMAINS_PER_CERT) {
    throw new CertTableError(
      app,
      `${at}: domains ${describe(domains)} is not a list of 1-${MAX_DOMAINS_PER_CERT} names`,
    );
  }
  const names: string[] = [];
  domains.forEach((domain: unknown, i) => {
    const name = typeof domain === 'string' ? domain.toLowerCase().replace(/\.$/, '') : '';
    if (!DOMAIN.test(name)) {
      throw new CertTableError(app, `${at}: domains[${i}] ${describe(domain)} is not a host name or *.host name`);
    }
    if (!names.includes(name)) names.push(name);
  });
  if (typeof cert !== 'string' || cert.length > MAX_CHAIN_BYTES || !PEM_CERT.test(cert.trimStart())) {
    throw new CertTableError(
      app,
      `${at}: cert is not a PEM certificate chain of at most ${MAX_CHAIN_BYTES} bytes (it starts ${describe(typeof cert === 'string' ? cert.slice(0, 30) : cert)})`,
    );
  }
  if (typeof key !== 'string' || !key.startsWith('v1:') || key.length > MAX_SEALED_KEY_BYTES) {
    throw new CertTableError(app, `${at}: key is not a sealed value (v1:..., at most ${MAX_SEALED_KEY_BYTES} bytes)`);
  }
  if (typeof notAfter !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(notAfter) || Number.isNaN(Date.parse(notAfter))) {
    throw new CertTableError(app, `${at}: notAfter ${describe(notAfter)} is not an ISO date`);
  }
  return { id, domains: names, cert: cert.trimStart(), key, notAfter: new Date(notAfter).toISOString() };
}

function checkApp(app: string): void {
  if (!isRoutableAppName(app)) throw new CertTableError(app, `the app name is not ${ROUTABLE_APP_NAME_RULE}`);
}

/** An app's whole list checked for writing: every certificate valid, ids unique, within limits. */
function validateList(app: string, certs: readonly TableCert[]): TableCert[] {
  checkApp(app);
  if (certs.length > MAX_CERTS_PER_APP) {
    throw new CertTableError(app, `${certs.length} certificates, more than ${MAX_CERTS_PER_APP}`);
  }
  const ids = new Set<string>();
  return certs.map((cert, i) => {
    const valid = validateTableCert(app, cert, `certs[${i}]`);
    if (ids.has(valid.id)) throw new CertTableError(app, `certs[${i}].id ${JSON.stringify(valid.id)} is listed twice`);
    ids.add(valid.id);
    return valid;
  });
}

/**
 * Parses one stored entry (`paas:certs` field `app`): throws CertTableError when the entry as
 * a whole is unusable; a certificate in it that is not valid is passed to `report` and left out.
 */
export function parseAppCerts(app: string, json: string, report: (problem: string) => void = () => {}): TableCert[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new CertTableError(app, `${CERTS_KEY} holds ${describe(json)}, which is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CertTableError(app, `${CERTS_KEY} holds ${describe(value)}, which is not an object`);
  }
  checkApp(app);
  const { app: named, certs } = value as { app?: unknown; certs?: unknown };
  if (named !== app) throw new CertTableError(app, `the entry names app ${describe(named)}`);
  if (!Array.isArray(certs)) throw new CertTableError(app, `certs ${describe(certs)} is not an array`);
  if (certs.length > MAX_CERTS_PER_APP) {
    throw new CertTableError(app, `${certs.length} certificates, more than ${MAX_CERTS_PER_APP}`);
  }
  const out: TableCert[] = [];
  certs.forEach((cert: unknown, i) => {
    try {
      const valid = validateTableCert(app, cert, `certs[${i}]`);
      if (out.some((c) => c.id === valid.id)) {
        throw new CertTableError(app, `certs[${i}].id ${JSON.stringify(valid.id)} is listed twice`);
      }
      out.push(valid);
    } catch (err) {
      report((err as Error).message);
    }
  });
  return out;
}

const CERT_TABLE: TableSpec<readonly TableCert[]> = {
  key: CERTS_KEY,
  versionKey: CERTS_VERSION_KEY,
  channel: CERTS_CHANNEL,
  parse: parseAppCerts,
};

function entryJson(app: string, certs: readonly TableCert[]): string {
  return JSON.stringify({ app, certs });
}

/**
 * Sets `app`'s certificates, replacing what was there (an empty list keeps an empty entry;
 * `removeAppCerts` removes it). Returns the table's new version.
 */
export async function setAppCerts(redis: Redis, app: string, certs: readonly TableCert[]): Promise<number> {
  const valid = validateList(app, certs);
  return (await writeEntry(redis, CERT_TABLE, app, entryJson(app, valid))) ?? 0;
}

/** Removes `app`'s certificates. Returns the new version, or null if it had none. */
export async function removeAppCerts(redis: Redis, app: string): Promise<number | null> {
  checkApp(app);
  return writeEntry(redis, CERT_TABLE, app, null);
}

/**
 * Replaces the whole table at once, for a writer that found it lost (its version went back):
 * readers reload it whole. Returns the table's new version.
 */
export async function rebuildCertTable(
  redis: Redis,
  all: ReadonlyMap<string, readonly TableCert[]>,
  past = 0,
): Promise<number> {
  const pairs = [...all].map(([app, certs]): [string, string] => [app, entryJson(app, validateList(app, certs))]);
  return rebuildTable(redis, CERT_TABLE, pairs, past);
}

/** The table's version (0 when Redis has none). */
export function certTableVersion(redis: Redis): Promise<number> {
  return tableVersion(redis, CERT_TABLE);
}

export interface CertTable {
  readonly version: number;
  readonly certs: Map<string, readonly TableCert[]>;
  /** Entries, or certificates in them, skipped because they do not validate. */
  readonly invalid: InvalidEntry[];
}

/** The whole table and its version, read together. */
export async function readCertTable(redis: Redis): Promise<CertTable> {
  const table = await readTable(redis, CERT_TABLE);
  return { version: table.version, certs: table.entries, invalid: table.invalid };
}

/** One app's certificates (null when it has no entry) and the table's version, read together. */
export async function readAppCerts(
  redis: Redis,
  app: string,
): Promise<{ version: number; certs: readonly TableCert[] | null; invalid: InvalidEntry[] }> {
  const read = await readEntry(redis, CERT_TABLE, app);
  return { version: read.version, certs: read.entry, invalid: read.invalid };
}

/** Keeps a live copy of the certificate table (versioned-table.ts has the protocol). */
export class CertWatcher extends TableWatcher<readonly TableCert[]> {
  constructor(options: TableWatcherOptions<readonly TableCert[]>) {
    super(CERT_TABLE, options);
  }

  get certs(): ReadonlyMap<string, readonly TableCert[]> {
    return this.entries;
  }
}
