/**
 * `addons`, `addons:create`, `addons:info`, `addons:attach`, `addons:detach`, `addons:destroy`:
 * managed PostgreSQL and Redis, each attached to apps as a config var (`DATABASE_URL`,
 * `REDIS_URL`, or `NAME_URL` with `--as NAME`). `pg:psql` and `redis:cli` run psql or redis-cli
 * in a one-off in the add-on's image, with the app's config var as the URL. Loaded on use from
 * ./commands.ts.
 */
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import { promptLine } from '../../terminal';
import type {
  AttachAddon as AttachAddonBody,
  Addon as AddonView,
  AddonAttachment as AddonAttachmentView,
  AddonType,
  CreateAddon as CreateAddonBody,
} from '@paas/api-types';
import { type AppFlags, resolveApp } from '../app';
import { type ApiClient, PlatformApiError, apiPath } from '../client';
import { columns, header, json, keyValues, listing, shellQuote, when } from '../format';
import { runOneOff, runOneOffTerminal } from '../one-off';
import { type JsonFlag, action, appPath, appSession, session } from '../session';

const addonPath = (name: string, ...rest: string[]): string => apiPath('addons', name, ...rest);

/**
 * The app's add-ons; without an app (no -a, no git remote), every add-on the token may see,
 * from an api that lists them (`GET /api/addons`), else the missing app is the error. A
 * remote named with -r must name an app.
 */
export async function addons(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  let app: string | undefined;
  let noApp: unknown;
  try {
    app = await resolveApp(flags, io.env, process.cwd());
  } catch (err) {
    if (flags.remote) throw err;
    noApp = err;
  }
  const { client } = await session(io);
  const list = app
    ? await client.get<AddonView[]>(appPath(app, 'addons'))
    : await client.get<AddonView[]>('/api/addons').catch((err: unknown) => {
        throw err instanceof PlatformApiError && err.status === 404 ? noApp : err;
      });
  if (flags.json) return io.out(json(list));
  if (list.length === 0)
    return io.out(
      app ? `${app} has no add-ons: paas addons:create postgres -a ${app} creates one.\n` : 'You have no add-ons.\n',
    );
  io.out(header(app ? `${app} Add-ons` : 'Add-ons'));
  io.out(
    columns([
      ['Name', 'Type', 'State', 'Attached As'],
      ...list.map((a) => [a.name, a.type, a.state, a.attachments.map(attachedAs).join(', ')]),
    ]),
  );
}

export async function addonsCreate(
  io: CliIo,
  type: string,
  flags: AppFlags & JsonFlag & { as?: string; name?: string; size?: string },
): Promise<void> {
  const { client, app } = await appSession(io, flags);
  // the type is the api's to check: it answers an unknown one with the types it has
  const body: CreateAddonBody = {
    type: type as CreateAddonBody['type'],
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.as !== undefined ? { as: flags.as } : {}),
    ...(flags.size !== undefined ? { size: flags.size } : {}),
  };
  const addon = await client.post<AddonView>(appPath(app, 'addons'), body);
  io.err(`Creating ${addon.name} on ${app}... done\n`);
  if (flags.json) return io.out(json(addon));
  const attachment = attachmentOf(addon, app, flags.as);
  io.out(attachment ? `Created ${addon.name} as ${attachment.var}\n` : `Created ${addon.name}\n`);
  notUp(io, addon);
}

export async function addonsInfo(io: CliIo, name: string, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const addon = await client.get<AddonView>(addonPath(name));
  if (flags.json) return io.out(json(addon));
  io.out(header(addon.name));
  io.out(
    keyValues([
      ['Type', addon.type],
      ['State', addon.state],
      ['Error', addon.error],
      [
        'Attachments',
        addon.attachments.length
          ? addon.attachments.map(attachedAs).join('\n')
          : `none (paas addons:attach ${addon.name} -a APP)`,
      ],
      ['Node', addon.node],
      ['Size', addon.size],
      ['Created', when(addon.createdAt)],
    ]),
  );
}

export async function addonsAttach(
  io: CliIo,
  name: string,
  flags: AppFlags & JsonFlag & { as?: string },
): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const body: AttachAddonBody = { app, ...(flags.as !== undefined ? { as: flags.as } : {}) };
  const addon = await action(io, `Attaching ${name} to ${app}`, () =>
    client.post<AddonView>(addonPath(name, 'attachments'), body),
  );
  if (flags.json) return io.out(json(addon));
  const attachment = attachmentOf(addon, app, flags.as);
  if (attachment) io.out(`Attached ${addon.name} to ${app} as ${attachment.var}\n`);
}

export async function addonsDetach(io: CliIo, name: string, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  await action(io, `Detaching ${name} from ${app}`, () => client.delete<undefined>(appPath(app, 'addons', name)));
}

export async function addonsDestroy(io: CliIo, name: string, flags: { confirm?: string }): Promise<void> {
  const { client } = await session(io);
  let confirm = flags.confirm;
  if (confirm === undefined && process.stdin.isTTY) {
    io.err(`WARNING: this will destroy ${name} and its data; the apps attached to it lose its config var.\n`);
    confirm = await promptLine(`To proceed, type ${name} or re-run this command with --confirm ${name}\n> `);
  }
  if (confirm === undefined)
    throw new CliError(`this would destroy ${name} and its data: re-run with --confirm ${name}`);
  if (confirm !== name) throw new CliError(`confirmation '${confirm}' did not match ${name}; nothing was destroyed`);
  await action(io, `Destroying ${name}`, () =>
    client.delete<undefined>(`${addonPath(name)}?confirm=${encodeURIComponent(confirm)}`),
  );
}

/**
 * `psql -c SQL...` in a one-off in the add-on's image, whose environment names the add-on
 * (libpq's PG*, the api's runs.service clientEnv); without -c, an interactive psql on a
 * terminal joined to this one, which must then be a terminal.
 */
export async function pgPsql(
  io: CliIo,
  name: string | undefined,
  flags: AppFlags & { command?: string[] },
): Promise<void> {
  const sql = flags.command ?? [];
  if (sql.length === 0 && !onTerminal())
    throw new CliError(
      `pg:psql without -c is interactive and needs a terminal; without one, pass the SQL (paas pg:psql -a APP -c 'SELECT 1')`,
      EXIT_USAGE,
    );
  const { client, app } = await appSession(io, flags);
  const list = await client.get<AddonView[]>(appPath(app, 'addons'));
  const { addon } = await attached(client, app, list, 'postgres', 'pg:psql', name);
  // the run's environment has libpq's PG* for the add-on: no password on a command line
  if (sql.length === 0) return runOneOffTerminal(client, app, { command: 'psql', addon: addon.name });
  const command = ['psql', ...sql.map((s) => `-c ${shellQuote(s)}`)].join(' ');
  await runOneOff(io, client, app, { command, addon: addon.name });
}

/**
 * `redis-cli -h HOST -p PORT ARGS...` in a one-off in the add-on's image, with REDISCLI_AUTH. `words` is
 * `[NAME] ARGS...`: the first is the add-on when it names one of the app's (a redis command
 * never looks like one). Without ARGS, an interactive redis-cli on a terminal joined to this
 * one, which must then be a terminal.
 */
export async function redisCli(io: CliIo, words: string[], flags: AppFlags): Promise<void> {
  const usage = `redis:cli without a command is interactive and needs a terminal; without one, pass the command (paas redis:cli -a APP PING)`;
  if (words.length === 0 && !onTerminal()) throw new CliError(usage, EXIT_USAGE);
  const { client, app } = await appSession(io, flags);
  const list = await client.get<AddonView[]>(appPath(app, 'addons'));
  const named = list.some((a) => a.name === words[0]);
  const args = named ? words.slice(1) : words;
  if (args.length === 0 && !onTerminal()) throw new CliError(usage, EXIT_USAGE);
  const { addon } = await attached(client, app, list, 'redis', 'redis:cli', named ? words[0] : undefined);
  // the run's environment has the add-on's address and REDISCLI_AUTH: no password on a command line
  const command = ['redis-cli -h "$PAAS_ADDON_HOST" -p "$PAAS_ADDON_PORT"', ...args.map(shellQuote)].join(' ');
  if (args.length === 0) return runOneOffTerminal(client, app, { command, addon: addon.name });
  await runOneOff(io, client, app, { command, addon: addon.name });
}

/** An interactive client needs this process's stdin and stdout to be a terminal. */
function onTerminal(): boolean {
  return process.stdin.isTTY && process.stdout.isTTY;
}

/**
 * The add-on a client verb is about and how `app` has it: `name`, or the app's only add-on of
 * `type`. `list` is the app's add-ons.
 */
async function attached(
  client: ApiClient,
  app: string,
  list: readonly AddonView[],
  type: AddonType,
  verb: string,
  name: string | undefined,
): Promise<{ addon: AddonView; attachment: AddonAttachmentView }> {
  let addon: AddonView | undefined;
  if (name !== undefined) {
    addon = list.find((a) => a.name === name);
    if (!addon) {
      await client.get<AddonView>(addonPath(name)); // the api's 404 when there is no such add-on
      throw new CliError(`${name} is not attached to ${app}: paas addons:attach ${name} -a ${app} attaches it`);
    }
    if (addon.type !== type) throw new CliError(`${name} is a ${addon.type} add-on: ${verb} is for ${type}`);
  } else {
    const candidates = list.filter((a) => a.type === type);
    if (candidates.length === 0)
      throw new CliError(`${app} has no ${type} add-on: paas addons:create ${type} -a ${app} creates one`);
    if (candidates.length > 1)
      throw new CliError(
        `${app} has ${candidates.length} ${type} add-ons (${listing(candidates.map((a) => a.name))}): name one, as in paas ${verb} ${candidates[0]?.name} -a ${app}`,
      );
    addon = candidates[0] as AddonView;
  }
  const attachment = addon.attachments.find((a) => a.app === app);
  if (!attachment) throw new CliError(`${addon.name} is not attached to ${app}`);
  return { addon, attachment };
}

/** `shop as DATABASE_URL` */
function attachedAs(a: AddonAttachmentView): string {
  return `${a.app} as ${a.var}`;
}

/** `app`'s attachment that was just made: the one named `as` if given, else its last. */
function attachmentOf(addon: AddonView, app: string, as: string | undefined): AddonAttachmentView | undefined {
  const mine = addon.attachments.filter((a) => a.app === app);
  const wanted = as?.toUpperCase();
  return mine.find((a) => a.name.toUpperCase() === wanted || a.var.toUpperCase() === wanted) ?? mine.at(-1);
}

/** After create: an add-on not up yet (or failed) says so, on stderr with the progress. */
function notUp(io: CliIo, addon: AddonView): void {
  if (addon.state === 'up') return;
  if (addon.error) io.err(`${addon.name} is ${addon.state}: ${addon.error}\n`);
  else io.err(`${addon.name} is ${addon.state}: paas addons:info ${addon.name} shows when it is up\n`);
}
