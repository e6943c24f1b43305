/**
 * `certs`, `certs:add`, `certs:info`, `certs:remove`: an app's TLS certificates; `certs:auto`,
 * `certs:auto:enable`, `certs:auto:disable`: certificates over ACME for its custom domains,
 * obtained and renewed by the platform (the api's issuer). Loaded on use
 * from ./commands.ts. The key file is read here and sent once; nothing prints it.
 */
import type { AddedCertificate, Certificate, CertsAuto, DomainCertState } from '@paas/api-types';
import { readFile } from 'node:fs/promises';
import { CliError } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { columns, header, json, keyValues, utc } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

/**
 * The certificates, then (when they are on) each custom domain's automatic certificate, as
 * Heroku's `certs` lists its ACM certificates with their status. --json stays the list of
 * certificates (scripts read it; `certs:auto --json` has the domains' states).
 */
export async function certs(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  if (flags.json) return io.out(json(await client.get<Certificate[]>(appPath(app, 'certs'))));
  const [list, auto] = await Promise.all([
    client.get<Certificate[]>(appPath(app, 'certs')),
    client.get<CertsAuto>(appPath(app, 'certs', 'auto')),
  ]);
  if (list.length === 0 && !auto.enabled)
    return io.out(`${app} has no certificates: paas certs:add CERT_FILE KEY_FILE adds one.\n`);
  if (list.length > 0) {
    io.out(header(`${app} Certificates`));
    io.out(
      columns([
        ['ID', 'Domains', 'Expires', 'Source'],
        ...list.map((c) => [c.id, servingLine(c), utc(c.notAfter), c.source]),
      ]),
    );
  }
  if (auto.enabled) io.out(`${list.length > 0 ? '\n' : ''}${table(app, auto)}`);
}

export async function certsAdd(
  io: CliIo,
  certFile: string,
  keyFile: string,
  flags: AppFlags & JsonFlag,
): Promise<void> {
  const [cert, key] = [await readPem(certFile, 'certificate'), await readPem(keyFile, 'key')];
  const { client, app } = await appSession(io, flags);
  const added = await action(io, `Adding certificate to ${app}`, () =>
    client.post<AddedCertificate>(appPath(app, 'certs'), { cert, key }),
  );
  if (flags.json) return io.out(json(added));
  io.out(details(added));
  for (const r of added.replaces) io.out(`Replaces ${r.id} for ${r.domains.join(', ')}\n`);
  if (added.overridesAuto.length)
    io.out(
      `Automatic certificates leave ${added.overridesAuto.join(', ')} to this one until it expires or is removed (paas certs:remove ${added.id}).\n`,
    );
}

export async function certsInfo(io: CliIo, id: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const cert = await client.get<Certificate>(appPath(app, 'certs', id));
  if (flags.json) return io.out(json(cert));
  io.out(details(cert));
}

export async function certsRemove(io: CliIo, id: string, flags: AppFlags & { confirm?: string }): Promise<void> {
  const { client, app } = await appSession(io, flags);
  if (flags.confirm === undefined)
    throw new CliError(`this would remove certificate ${id} of ${app}: re-run with --confirm ${app}`);
  if (flags.confirm !== app)
    throw new CliError(`confirmation '${flags.confirm}' did not match ${app}; nothing was removed`);
  await action(io, `Removing certificate ${id} from ${app}`, () =>
    client.delete<Certificate>(appPath(app, 'certs', id)),
  );
}

function details(c: Certificate): string {
  return (
    header(c.id) +
    keyValues([
      ['Names', c.names.join(', ')],
      ['Domains', servingLine(c)],
      ['Issuer', c.issuer],
      ['Starts', utc(c.notBefore)],
      ['Expires', utc(c.notAfter)],
      ['Source', c.source],
      ['Fingerprint', c.fingerprint],
    ])
  );
}

/** The domains it serves; the ones it only covers say why not. */
function servingLine(c: Certificate): string {
  if (c.serving.length) return c.serving.join(', ');
  if (Date.parse(c.notAfter) <= Date.now()) return 'none (expired)';
  return c.domains.length ? `none (a newer certificate serves ${c.domains.join(', ')})` : 'none (no app domain)';
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export async function certsAuto(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const view = await client.get<CertsAuto>(appPath(app, 'certs', 'auto'));
  if (flags.json) return io.out(json(view));
  io.out(table(app, view));
}

export async function certsAutoEnable(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const view = await action(io, `Enabling automatic certificates for ${app}`, () =>
    client.post<CertsAuto>(appPath(app, 'certs', 'auto'), {}),
  );
  if (flags.json) return io.out(json(view));
  if (view.domains.length === 0) io.out(`${app} has no custom domain yet: paas domains:add HOSTNAME adds one.\n`);
  else io.out(`Certificates are ordered in the background: paas certs:auto -a ${app} shows each domain's state.\n`);
  for (const d of view.domains.filter((d) => d.state === 'manual'))
    io.out(
      `${d.hostname} keeps its uploaded certificate ${d.certificateId ?? ''}: automatic certificates take over once it expires or is removed.\n`,
    );
}

export async function certsAutoDisable(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const view = await action(io, `Disabling automatic certificates for ${app}`, () =>
    client.delete<CertsAuto>(appPath(app, 'certs', 'auto')),
  );
  if (flags.json) return io.out(json(view));
  io.out('Certificates already obtained keep serving until they expire.\n');
}

/** Heroku's table: domain, status, expiry, and why it failed, when it is tried next, or which upload serves it. */
function table(app: string, view: CertsAuto): string {
  if (!view.enabled) return `Automatic certificates are disabled for ${app}: paas certs:auto:enable -a ${app}\n`;
  const title = header(`Automatic certificates are enabled for ${app}`);
  if (view.domains.length === 0) return `${title}${app} has no custom domain: paas domains:add HOSTNAME adds one.\n`;
  return (
    title +
    columns([
      ['Domain', 'Status', 'Expires', 'Message'],
      ...view.domains.map((d) => [
        d.hostname,
        STATUS[d.state ?? 'waiting'],
        d.expiresAt ? utc(d.expiresAt) : '',
        message(d),
      ]),
    ])
  );
}

const STATUS: Record<NonNullable<DomainCertState['state']>, string> = {
  waiting: 'Waiting',
  issuing: 'Issuing',
  issued: 'Cert issued',
  failed: 'Failed',
  manual: 'Uploaded cert',
};

function message(d: DomainCertState): string {
  if (d.state === 'failed') {
    const next = d.nextAttemptAt ? `; next attempt ${utc(d.nextAttemptAt)}` : '';
    return `${d.problem?.detail ?? 'the order failed'}${next}`;
  }
  if (d.state === 'issued' && d.nextAttemptAt) return `renews ${utc(d.nextAttemptAt)}`;
  if (d.state === 'manual')
    return `${d.certificateId ?? 'an upload'} serves it; automatic once it expires or is removed`;
  return '';
}
