/**
 * Backups of an app's PostgreSQL add-ons (`pg:backups*`), over `/api/addons/:name/backups` and
 * `/api/backups/:id`. An add-on is named by its name or by the config var its app has it as
 * (`DATABASE`, `DATABASE_URL`); omitted, it is the app's only postgres add-on. A backup is named
 * `bNNN` (of the add-on at hand), `ADDON::bNNN`, or by its id. Loaded on use from ./commands.ts.
 */
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Addon, Backup, BackupSchedule, RestoredBackup } from '@paas/api-types';
import { writeStreamAtomic } from '@paas/content';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import { promptLine } from '../../terminal';
import type { AppFlags } from '../app';
import { apiPath, type ApiClient } from '../client';
import { bytes, columns, header, json, utc } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

/** How long a restore may go without the api answering. */
const RESTORE_TIMEOUT_MS = 6 * 3600_000;
/** How often a capture's state is asked for while the CLI waits for it. */
const POLL_MS = 500;

export async function pgBackups(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const addons = await postgresAddons(client, app);
  const lists = await Promise.all(addons.map((a) => client.get<Backup[]>(backupsPath(a.name))));
  const all = lists.flat().sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || y.number - x.number);
  if (flags.json) return io.out(json(all));
  io.out(header(`${app} Backups`));
  if (all.length === 0) {
    io.out(`No backups. Capture one with: paas pg:backups:capture -a ${app}\n`);
    return;
  }
  const many = addons.length > 1;
  io.out(
    columns([
      ['ID', 'Created', 'Status', 'Size', 'Database'],
      ...all.map((b) => [many ? `${b.addon}::${b.name}` : b.name, utc(b.createdAt), status(b), bytes(b.size), b.addon]),
    ]),
  );
}

export async function pgBackupsCapture(io: CliIo, name: string | undefined, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const addon = await resolveAddon(client, app, name);
  const started = await client.post<Backup>(backupsPath(addon), {});
  const done = await action(
    io,
    `Backing up ${addon} to ${started.name}`,
    async () => {
      for (let backup = started; ; await sleep(POLL_MS)) {
        if (backup.state !== 'running') return backup;
        const now = (await client.get<Backup[]>(backupsPath(addon))).find((b) => b.id === started.id);
        if (!now) throw new CliError(`backup ${started.name} of ${addon} is gone`);
        backup = now;
      }
    },
    (b) => (b.state === 'succeeded' ? `done, ${bytes(b.size)}` : 'failed'),
  );
  if (done.state === 'failed')
    throw new CliError(`backup ${done.name} of ${addon} failed: ${done.error ?? 'no reason given'}`);
  if (flags.json) io.out(json(done));
}

export async function pgBackupsRestore(
  io: CliIo,
  id: string | undefined,
  name: string | undefined,
  flags: AppFlags & { confirm?: string; to?: string },
): Promise<void> {
  // `--to NAME` (Heroku's) or NAME: the add-on to restore into
  if (name !== undefined && flags.to !== undefined && name !== flags.to)
    throw new CliError(`NAME (${name}) and --to (${flags.to}) name different add-ons`, EXIT_USAGE);
  const { client, app } = await appSession(io, flags);
  // one argument that names no backup is the add-on to restore into, with its latest backup
  if (id !== undefined && name === undefined && flags.to === undefined && !looksLikeBackup(id))
    [id, name] = [undefined, id];
  name ??= flags.to;
  const addon = await resolveAddon(client, app, name);
  const backup = await resolveBackup(client, app, addon, id);
  let confirm = flags.confirm;
  if (confirm === undefined && process.stdin.isTTY) {
    io.err(`WARNING: this replaces the data of ${addon} (app ${app}) with backup ${backup.addon}::${backup.name}.\n`);
    confirm = await promptLine(`To proceed, type ${app} or re-run this command with --confirm ${app}\n> `);
  }
  if (confirm === undefined)
    throw new CliError(`this would replace the data of ${addon}: re-run with --confirm ${app}`);
  if (confirm !== app) throw new CliError(`confirmation '${confirm}' did not match ${app}; nothing was restored`);
  await action(io, `Restoring ${backup.addon}::${backup.name} into ${addon}`, () =>
    // the api answers once pg_restore is done: a big database takes a while
    client.json<RestoredBackup>(
      'POST',
      apiPath('addons', addon, 'restore'),
      { backup: backup.id, confirm },
      RESTORE_TIMEOUT_MS,
    ),
  );
}

export async function pgBackupsDownload(
  io: CliIo,
  id: string | undefined,
  flags: AppFlags & { output: string },
): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const addon = id?.includes('::') ? undefined : await resolveAddon(client, app, undefined);
  const backup = await resolveBackup(client, app, addon, id);
  await action(
    io,
    `Downloading ${backup.addon}::${backup.name} to ${flags.output}`,
    async () => {
      const res = await client.open('GET', apiPath('backups', backup.id, 'download'), {
        accept: 'application/octet-stream',
      });
      // a cut-off answer leaves no file behind: it is renamed into place only once whole
      await writeStreamAtomic(flags.output, async (out) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        await pipeline(res, out, { end: false });
        if (backup.size !== null && received !== backup.size) {
          throw new CliError(`the download of ${backup.name} stopped after ${received} of ${backup.size} bytes`);
        }
      });
    },
    () => `done, ${bytes(backup.size)}`,
  );
}

export async function pgBackupsDelete(io: CliIo, id: string, flags: AppFlags & { confirm?: string }): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const addon = id.includes('::') ? undefined : await resolveAddon(client, app, undefined);
  const backup = await resolveBackup(client, app, addon, id);
  if (flags.confirm === undefined)
    throw new CliError(`this would delete backup ${backup.name} of ${backup.addon}: re-run with --confirm ${app}`);
  if (flags.confirm !== app)
    throw new CliError(`confirmation '${flags.confirm}' did not match ${app}; nothing was deleted`);
  await action(io, `Deleting backup ${backup.name} of ${backup.addon}`, () =>
    client.delete<Backup>(apiPath('backups', backup.id)),
  );
}

export async function pgBackupsSchedule(
  io: CliIo,
  name: string | undefined,
  flags: AppFlags & { at: string },
): Promise<void> {
  const hour = parseHour(flags.at);
  const { client, app } = await appSession(io, flags);
  const addon = await resolveAddon(client, app, name);
  await action(io, `Scheduling daily backups of ${addon} at ${String(hour).padStart(2, '0')}:00 UTC`, () =>
    client.json<BackupSchedule>('PUT', backupsPath(addon, 'schedule'), { hour }),
  );
}

export async function pgBackupsUnschedule(io: CliIo, name: string | undefined, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const addon = await resolveAddon(client, app, name);
  await action(io, `Stopping daily backups of ${addon}`, () =>
    client.json<BackupSchedule>('PUT', backupsPath(addon, 'schedule'), { hour: null }),
  );
}

/** `2`, `02`, `2:00`, `02:00`, with or without ` UTC`: the hour 0-23. */
export function parseHour(at: string): number {
  const match = /^\s*(\d{1,2})(?::00)?(?:\s+UTC)?\s*$/i.exec(at);
  const hour = Number(match?.[1]);
  if (!match || hour > 23) {
    throw new CliError(`invalid --at '${at}': expected an hour of the day in UTC, such as 02:00`, EXIT_USAGE);
  }
  return hour;
}

const backupsPath = (addon: string, ...rest: string[]): string => apiPath('addons', addon, 'backups', ...rest);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function looksLikeBackup(ref: string): boolean {
  return /^b\d+$/i.test(ref) || ref.includes('::') || UUID.test(ref);
}

async function postgresAddons(client: ApiClient, app: string): Promise<Addon[]> {
  return (await client.get<Addon[]>(appPath(app, 'addons'))).filter((a) => a.type === 'postgres');
}

/** The add-on NAME means (its name, or its config var on the app), or the app's only postgres add-on. */
async function resolveAddon(client: ApiClient, app: string, name: string | undefined): Promise<string> {
  const addons = await postgresAddons(client, app);
  if (name !== undefined) {
    const found = addons.find(
      (a) => a.name === name || a.attachments.some((at) => at.app === app && (at.name === name || at.var === name)),
    );
    // not attached to this app: the api says whether the token may use it
    return found?.name ?? name;
  }
  if (addons.length === 1 && addons[0]) return addons[0].name;
  if (addons.length === 0)
    throw new CliError(`${app} has no postgres add-on: create one with 'paas addons:create postgres -a ${app}'`);
  throw new CliError(`${app} has several postgres add-ons (${addons.map((a) => a.name).join(', ')}): name one`);
}

/**
 * The backup `ref` names: `ADDON::bNNN`, `bNNN` of `addon`, a backup id among the app's add-ons'
 * backups; omitted, the latest succeeded backup of `addon`.
 */
async function resolveBackup(
  client: ApiClient,
  app: string,
  addon: string | undefined,
  ref: string | undefined,
): Promise<Backup> {
  const qualified = ref?.split('::');
  if (qualified && qualified.length === 2) {
    const [of, number] = qualified as [string, string];
    return pick(await client.get<Backup[]>(backupsPath(of)), number, of);
  }
  if (ref !== undefined && UUID.test(ref)) {
    const lists = await Promise.all(
      (await postgresAddons(client, app)).map((a) => client.get<Backup[]>(backupsPath(a.name))),
    );
    const found = lists.flat().find((b) => b.id === ref.toLowerCase());
    if (!found) throw new CliError(`backup ${ref} is not a backup of ${app}'s add-ons; name it as ADDON::bNNN`);
    return found;
  }
  if (addon === undefined) throw new CliError(`name the backup as ADDON::bNNN`, EXIT_USAGE);
  const list = await client.get<Backup[]>(backupsPath(addon));
  if (ref !== undefined) return pick(list, ref, addon);
  const latest = list.filter((b) => b.state === 'succeeded').sort((x, y) => y.number - x.number)[0];
  if (!latest)
    throw new CliError(`${addon} has no backup to use: capture one with 'paas pg:backups:capture -a ${app}'`);
  return latest;
}

function pick(list: readonly Backup[], name: string, addon: string): Backup {
  if (!/^b\d+$/i.test(name)) throw new CliError(`invalid backup '${name}': expected bNNN, such as b001`, EXIT_USAGE);
  const number = Number(name.slice(1));
  const found = list.find((b) => b.number === number);
  if (!found) throw new CliError(`backup ${name} of ${addon} not found`);
  return found;
}

function status(b: Backup): string {
  if (b.state === 'running') return 'Running';
  if (b.state === 'failed') return `Failed ${utc(b.finishedAt)}`;
  return `Completed ${utc(b.finishedAt)}`;
}
