/**
 * The platform verbs, Heroku style, over the REST API (docs/api.md). Loaded on first use (see
 * ./commands.ts). What a verb reports about its progress (`Creating myapp... done`) goes to
 * stderr as Heroku's CLI does; what it answers goes to stdout; failures are `paas: <message>`.
 */
import { basename, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { CliError, EXIT_USAGE } from '../errors';
import { table } from '../format';
import type { CliIo } from '../io';
import { type AppFlags, appFromGitUrl, git, insideWorkTree, remoteUrl, resolveApp, DEFAULT_REMOTE } from './app';
import { ApiClient, ApiUnreachableError, PlatformApiError, apiPath } from './client';
import { ExitTrailerSplitter } from './exit-trailer';
import { bytes, columns, header, json, keyValues, listing, shellQuote, shortAgo, shortCommit, when } from './format';
import {
  ScaleArgumentError,
  formatFormation,
  formatMemory,
  formationUpdates,
  needsCurrent,
  parseScaleArgs,
} from './scale';
import { type Target, TargetError, normalizeUrl, readLogin, removeLogin, resolveTarget, saveLogin } from './target';
import type {
  App,
  Build,
  Domain,
  Formation,
  Instance,
  IssuedToken,
  LogLine,
  Node,
  Release,
  Token,
} from '@paas/api-types';

interface JsonFlag {
  json?: boolean;
}

interface Session {
  readonly client: ApiClient;
  readonly target: Target;
}

async function session(io: CliIo): Promise<Session> {
  const target = await resolveTarget(io.env);
  if (!target.token) {
    throw new CliError(
      `not logged in to the paas API at ${target.url}: run 'paas login --api ${target.url}' (or set PAAS_API_TOKEN)`,
    );
  }
  return { client: new ApiClient(target.url, target.token), target };
}

async function appSession(io: CliIo, flags: AppFlags): Promise<Session & { app: string }> {
  const app = await resolveApp(flags, io.env, process.cwd());
  return { ...(await session(io)), app };
}

const appPath = (app: string, ...rest: (string | number)[]): string => apiPath('apps', app, ...rest);

/**
 * Prints a platform failure as `paas: <message>` and turns it into the exit code; errors that
 * are not the user's (bugs) go on to the CLI's generic report with their stack.
 */
export async function fail(io: CliIo, err: unknown): Promise<never> {
  if (err instanceof PlatformApiError) {
    io.err(`paas: ${err.message}\n`);
    for (const detail of err.details ?? []) io.err(`  - ${describeDetail(detail)}\n`);
    if (err.status === 401) {
      const target = await resolveTarget(io.env).catch(() => undefined);
      const from = target?.from ? ` (token from ${target.from})` : '';
      io.err(`paas: the API at ${target?.url ?? 'the api'} refused the token${from}; run 'paas login'\n`);
    }
    throw new CliError('', 1);
  }
  if (err instanceof ApiUnreachableError || err instanceof TargetError) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', 1);
  }
  if (err instanceof ScaleArgumentError) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', EXIT_USAGE);
  }
  if (err instanceof CliError && err.message) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', err.exitCode);
  }
  throw err;
}

function describeDetail(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (detail && typeof detail === 'object') {
    const d = detail as Record<string, unknown>;
    const field = typeof d['field'] === 'string' ? d['field'] : typeof d['property'] === 'string' ? d['property'] : '';
    const text =
      typeof d['message'] === 'string'
        ? d['message']
        : typeof d['rule'] === 'string'
          ? d['rule']
          : Array.isArray(d['constraints'])
            ? d['constraints'].join(', ')
            : '';
    if (text) return field && !text.includes(field) ? `${field}: ${text}` : text;
  }
  return JSON.stringify(detail);
}

/** `Doing something... done` on stderr around `work`. */
async function action<T>(
  io: CliIo,
  what: string,
  work: () => Promise<T>,
  done: (result: T) => string = () => 'done',
): Promise<T> {
  const result = await work();
  io.err(`${what}... ${done(result)}\n`);
  return result;
}

// ---------------------------------------------------------------------------------- apps

export async function apps(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const list = await client.get<App[]>('/api/apps');
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.out('You have no apps.\n');
  io.out(header('Apps'));
  io.out(columns(list.map((a) => [a.name, a.release ? `v${a.release.version}` : '-', a.webUrl])));
}

export async function appsCreate(
  io: CliIo,
  name: string,
  flags: JsonFlag & { remote?: string; gitRemote: boolean },
): Promise<void> {
  const { client } = await session(io);
  const app = await action(io, `Creating ${name}`, () => client.post<App>('/api/apps', { name }));
  if (flags.json) io.out(json(app));
  else io.out(`${app.webUrl} | ${app.gitUrl}\n`);
  if (flags.gitRemote) await addRemote(io, flags.remote || DEFAULT_REMOTE, app.gitUrl);
}

/**
 * `git remote add` in the current repository when it has no remote by that name yet, and
 * `paas git:credentials` as the repository's credential helper for the api, so that
 * `git push paas main` authenticates with the CLI's token without asking.
 */
async function addRemote(io: CliIo, remote: string, url: string): Promise<void> {
  const dir = process.cwd();
  if (!(await insideWorkTree(dir))) return;
  const existing = await remoteUrl(remote, dir);
  if (existing === url) return;
  if (existing) {
    io.err(`Git remote ${remote} already points to ${existing}; not changed\n`);
    return;
  }
  if ((await git(['remote', 'add', remote, url], dir)) === undefined) {
    io.err(`paas: could not add the git remote ${remote} (${url})\n`);
    return;
  }
  io.err(`Git remote ${remote} added\n`);
  const key = `credential.${new URL(url).origin}.helper`;
  if (!(await git(['config', '--get', key], dir))?.trim()) await git(['config', key, credentialHelper()], dir);
}

/** How git runs this CLI as a credential helper: by its absolute path when started as `paas`. */
export function credentialHelper(self = process.argv[1]): string {
  if (self && basename(self) === 'paas') return `!${shellQuote(resolve(self))} git:credentials`;
  return '!paas git:credentials';
}

/**
 * git's credential helper protocol (`paas git:credentials get`): for the api's own host, the
 * token the CLI uses (any user name works); nothing for other hosts. `store` and `erase` are
 * accepted and ignored: the token lives in the CLI's login, not in git.
 */
export async function gitCredentials(io: CliIo, operation: string): Promise<void> {
  const input = await readStdin();
  if (operation !== 'get') return;
  const fields = new Map<string, string>();
  for (const line of input.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const target = await resolveTarget(io.env);
  const api = new URL(target.url);
  if (!target.token || fields.get('protocol') !== api.protocol.slice(0, -1) || fields.get('host') !== api.host) return;
  io.out(`username=paas\npassword=${target.token}\n`);
}

/** The remotes of the current repository that point to `app`: name -> url. */
async function remotesOf(io: CliIo, app: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const out = await git(['config', '--get-regexp', '^remote\\..*\\.url$'], process.cwd());
  for (const line of (out ?? '').split('\n')) {
    const match = /^remote\.(.+)\.url\s+(.+)$/.exec(line.trim());
    if (match?.[1] && match[2] && appFromGitUrl(match[2]) === app) found.set(match[1], match[2]);
  }
  return found;
}

export async function appsDestroy(io: CliIo, flags: AppFlags & { confirm?: string }): Promise<void> {
  const { client, app } = await appSession(io, flags);
  let confirm = flags.confirm;
  if (confirm === undefined && process.stdin.isTTY) {
    io.err(`WARNING: this will delete ${app} with its config, builds, releases, processes and domains.\n`);
    confirm = await promptLine(`To proceed, type ${app} or re-run this command with --confirm ${app}\n> `);
  }
  if (confirm === undefined) throw new CliError(`this would destroy ${app}: re-run with --confirm ${app}`);
  if (confirm !== app) throw new CliError(`confirmation '${confirm}' did not match ${app}; nothing was destroyed`);
  await action(io, `Destroying ${app}`, () => client.delete<App>(appPath(app)));
  for (const [remote] of await remotesOf(io, app)) {
    if ((await git(['remote', 'remove', remote], process.cwd())) !== undefined)
      io.err(`Git remote ${remote} removed\n`);
  }
}

export async function appsInfo(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [info, formation, domains] = await Promise.all([
    client.get<App>(appPath(app)),
    client.get<Formation[]>(appPath(app, 'formation')),
    client.get<Domain[]>(appPath(app, 'domains')),
  ]);
  if (flags.json) return io.out(json({ app: info, formation, domains }));
  io.out(header(info.name));
  io.out(
    keyValues([
      ['Domains', domains.length ? domains.map((d) => d.hostname).join('\n') : undefined],
      ['Git URL', info.gitUrl],
      ['Processes', formation.length ? formation.map(formatFormation).join(' ') : undefined],
      ['Release', info.release ? `v${info.release.version}` : 'none (push to deploy)'],
      ['Created', when(info.createdAt)],
      ['Web URL', info.webUrl],
    ]),
  );
}

export async function appsRename(io: CliIo, newName: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const renamed = await action(io, `Renaming ${app} to ${newName}`, () =>
    client.patch<App>(appPath(app), { name: newName }),
  );
  if (flags.json) io.out(json(renamed));
  else io.out(`${renamed.webUrl} | ${renamed.gitUrl}\n`);
  for (const [remote] of await remotesOf(io, app)) {
    if ((await git(['remote', 'set-url', remote, renamed.gitUrl], process.cwd())) !== undefined) {
      io.err(`Git remote ${remote} updated\n`);
    }
  }
}

// -------------------------------------------------------------------------------- config

export async function config(io: CliIo, flags: AppFlags & JsonFlag & { shell?: boolean }): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const vars = await client.get<Record<string, string>>(appPath(app, 'config-vars'));
  const keys = Object.keys(vars).sort();
  if (flags.json) return io.out(json(vars));
  if (flags.shell) return io.out(keys.map((k) => `${k}=${shellQuote(vars[k] ?? '')}\n`).join(''));
  io.out(header(`${app} Config Vars`));
  io.out(keyValues(keys.map((k) => [k, vars[k] ?? ''])));
}

export async function configGet(io: CliIo, key: string, flags: AppFlags & { shell?: boolean }): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const vars = await client.get<Record<string, string>>(appPath(app, 'config-vars'));
  const value = vars[key] ?? '';
  io.out(flags.shell ? `${key}=${shellQuote(value)}\n` : `${value}\n`);
}

/** `KEY=value` arguments; the value may contain `=` and be empty. */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid config var '${arg}': expected KEY=value`, EXIT_USAGE);
    vars[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return vars;
}

async function currentVersion(client: ApiClient, app: string): Promise<string> {
  const info = await client.get<App>(appPath(app));
  return info.release ? `v${info.release.version}` : 'no release yet';
}

export async function configSet(io: CliIo, args: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const changes = parseAssignments(args);
  const { client, app } = await appSession(io, flags);
  const keys = Object.keys(changes);
  let vars: Record<string, string> = {};
  await action(
    io,
    `Setting ${listing(keys)} and restarting ${app}`,
    async () => {
      vars = await client.patch<Record<string, string>>(appPath(app, 'config-vars'), changes);
      return currentVersion(client, app);
    },
    (version) => `done, ${version}`,
  );
  if (flags.json) return io.out(json(vars));
  io.out(keyValues(keys.map((k) => [k, vars[k] ?? changes[k] ?? ''])));
}

export async function configUnset(io: CliIo, keys: string[], flags: AppFlags): Promise<void> {
  for (const key of keys) {
    if (key.includes('='))
      throw new CliError(`invalid config var name '${key}': config:unset takes names, not KEY=value`, EXIT_USAGE);
  }
  const { client, app } = await appSession(io, flags);
  await action(
    io,
    `Unsetting ${listing(keys)} and restarting ${app}`,
    async () => {
      await client.patch(appPath(app, 'config-vars'), Object.fromEntries(keys.map((k) => [k, null])));
      return currentVersion(client, app);
    },
    (version) => `done, ${version}`,
  );
}

// ------------------------------------------------------------------------- ps and scaling

export async function psScale(io: CliIo, args: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const request = parseScaleArgs(args);
  const { client, app } = await appSession(io, flags);
  if ('show' in request) {
    const formation = await client.get<Formation[]>(appPath(app, 'formation'));
    const unknown = request.show.filter((t) => !formation.some((f) => f.type === t));
    if (unknown.length) {
      throw new CliError(
        `no process type ${listing(unknown.map((t) => `'${t}'`))} on ${app}; it has ${formation.map((f) => f.type).join(', ') || 'none'}`,
      );
    }
    const shown = request.show.length ? formation.filter((f) => request.show.includes(f.type)) : formation;
    if (flags.json) return io.out(json(shown));
    if (shown.length === 0) throw new CliError(`no process types on ${app}: deploy it first (git push paas main)`);
    io.out(`${shown.map(formatFormation).join(' ')}\n`);
    return;
  }
  const current = needsCurrent(request.changes) ? await client.get<Formation[]>(appPath(app, 'formation')) : [];
  const updates = formationUpdates(request.changes, current);
  const result = await action(
    io,
    'Scaling processes',
    () => client.patch<Formation[]>(appPath(app, 'formation'), { updates }),
    (formation) => {
      const changed = formation.filter((f) => updates.some((u) => u.type === f.type));
      const running = changed.map(
        (f) => `${f.type} at ${f.quantity}${typeof f.memory === 'number' ? `:${formatMemory(f.memory)}` : ''}`,
      );
      return `done, now running ${listing(running)}`;
    },
  );
  if (flags.json) io.out(json(result));
}

export async function ps(io: CliIo, types: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [instances, formation] = await Promise.all([
    client.get<Instance[]>(appPath(app, 'instances')),
    client.get<Formation[]>(appPath(app, 'formation')),
  ]);
  const shown = types.length ? instances.filter((i) => types.includes(i.type)) : instances;
  if (flags.json) return io.out(json(shown));
  if (shown.length === 0) {
    io.out(`No processes are running on ${app}.\n`);
    return;
  }
  const byType = new Map<string, Instance[]>();
  for (const instance of [...shown].sort((a, b) => a.type.localeCompare(b.type) || a.number - b.number)) {
    byType.set(instance.type, [...(byType.get(instance.type) ?? []), instance]);
  }
  const sections: string[] = [];
  for (const [type, list] of byType) {
    const f = formation.find((x) => x.type === type);
    const size = typeof f?.memory === 'number' ? ` (${formatMemory(f.memory)})` : '';
    const command = f?.command ? `: ${f.command}` : '';
    const lines = list.map((i) => {
      const extra = [i.release ? `v${i.release.version}` : '', i.node ?? '', i.address ?? '']
        .filter(Boolean)
        .join(', ');
      return `${i.name}: ${i.state} ${shortAgo(i.updatedAt)}${extra ? ` (${extra})` : ''}\n`;
    });
    sections.push(header(`${type}${size}${command} (${list.length})`) + lines.join(''));
  }
  io.out(sections.join('\n'));
}

// ---------------------------------------------------------------------------- releases

/** `v12` or `12` -> 12. */
export function parseVersion(value: string): number {
  const match = /^v?(\d{1,9})$/.exec(value.trim());
  if (!match) throw new CliError(`invalid release '${value}': expected vN, e.g. v3`, EXIT_USAGE);
  return Number(match[1]);
}

/** States worth a word in a list: what is on its way or went wrong (live and superseded are history). */
const UNSETTLED: ReadonlySet<Release['status']> = new Set(['building', 'deploying', 'failed']);

function releaseLine(r: Release): string[] {
  const status = UNSETTLED.has(r.status) ? ` (${r.status}${r.waiting ? ', waiting for capacity' : ''})` : '';
  return [`v${r.version}`, `${r.description}${status}`, r.createdBy ?? '', shortAgo(r.createdAt)];
}

export async function releases(io: CliIo, flags: AppFlags & JsonFlag & { num: string }): Promise<void> {
  const limit = Number(flags.num);
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`invalid --num '${flags.num}': expected a positive number`, EXIT_USAGE);
  const { client, app } = await appSession(io, flags);
  const list = (await client.get<Release[]>(appPath(app, 'releases'))).slice(0, limit);
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.out(`${app} has no releases.\n`);
  const current = list.find((r) => r.current);
  io.out(header(`${app} Releases${current ? ` - Current: v${current.version}` : ''}`));
  io.out(columns(list.map(releaseLine)));
}

async function currentRelease(client: ApiClient, app: string): Promise<Release> {
  const list = await client.get<Release[]>(appPath(app, 'releases'));
  const current = list.find((r) => r.current) ?? list[0];
  if (!current) throw new CliError(`${app} has no releases yet`);
  return current;
}

export async function releasesInfo(
  io: CliIo,
  version: string | undefined,
  flags: AppFlags & JsonFlag & { shell?: boolean },
): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const release =
    version === undefined
      ? await currentRelease(client, app)
      : await client.get<Release>(appPath(app, 'releases', `v${parseVersion(version)}`));
  if (flags.json) return io.out(json(release));
  const keys = Object.keys(release.config ?? {}).sort();
  if (flags.shell) return io.out(keys.map((k) => `${k}=${shellQuote(release.config[k] ?? '')}\n`).join(''));
  io.out(header(`Release v${release.version}`));
  io.out(
    keyValues([
      ['By', release.createdBy],
      ['Change', release.description],
      ['Current', release.current ? 'yes' : 'no'],
      [
        'Image',
        release.imageRef ? `${release.imageRef}${release.imageDigest ? `@${release.imageDigest}` : ''}` : undefined,
      ],
      [
        'Processes',
        release.processTypes && Object.keys(release.processTypes).length
          ? Object.entries(release.processTypes)
              .map(([t, c]) => `${t}: ${c}`)
              .join('\n')
          : undefined,
      ],
      ['Status', release.status],
      ['Live', release.liveAt ? when(release.liveAt) : undefined],
      ['Error', release.error],
      ['Waiting', release.waiting],
      ['When', when(release.createdAt)],
    ]),
  );
  io.out(`\n${header(`v${release.version} Config vars`)}`);
  io.out(keyValues(keys.map((k) => [k, release.config[k] ?? ''])));
}

export async function rollback(io: CliIo, version: string | undefined, flags: AppFlags & JsonFlag): Promise<void> {
  const wanted = version === undefined ? undefined : parseVersion(version);
  const { client, app } = await appSession(io, flags);
  let target = wanted;
  if (target === undefined) {
    const list = await client.get<Release[]>(appPath(app, 'releases'));
    const current = list.find((r) => r.current) ?? list[0];
    if (!current) throw new CliError(`${app} has no releases to roll back`);
    // The newest earlier release that passed its build and has an image (a config change before
    // the first deploy has none).
    const previous = list.find(
      (r) => r.version < current.version && ['deploying', 'live', 'superseded'].includes(r.status) && r.imageRef,
    );
    if (!previous) throw new CliError(`${app} has no deployed release before v${current.version} to roll back to`);
    target = previous.version;
  }
  const release = await action(
    io,
    `Rolling back ${app} to v${target}`,
    () => client.post<Release>(appPath(app, 'releases'), { release: target }),
    // it serves only once its instances are up: say so while it deploys
    (r) => `done, v${r.version}${r.status === 'live' ? '' : ` (${r.status})`}`,
  );
  if (flags.json) io.out(json(release));
}

// -------------------------------------------------------------------------------- logs

/** Cancels `work` on Ctrl-C (the signal's handler is removed after). */
async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T | 'interrupted'> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } catch (err) {
    if (controller.signal.aborted) return 'interrupted';
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Instances (`web.1`) speak as `app[web.1]`, the platform (`api`, `build`, `release`) as `paas[api]`. */
export function formatLogLine(entry: LogLine): string {
  const who = /^[a-z][a-z0-9_-]*\.\d+$/.test(entry.source)
    ? `app[${entry.source}]`
    : `paas[${entry.source || 'platform'}]`;
  return `${entry.t} ${who}: ${entry.line}\n`;
}

function parseLogData(data: string): LogLine {
  try {
    const parsed = JSON.parse(data) as Partial<LogLine>;
    if (parsed && typeof parsed === 'object' && typeof parsed.line === 'string') {
      return { t: String(parsed.t ?? ''), source: String(parsed.source ?? ''), line: parsed.line };
    }
  } catch {
    // a plain line
  }
  return { t: '', source: '', line: data };
}

export async function logs(
  io: CliIo,
  flags: AppFlags & JsonFlag & { num: string; follow?: boolean; source?: string },
): Promise<void> {
  const tail = Number(flags.num);
  if (!Number.isInteger(tail) || tail < 0)
    throw new CliError(`invalid --num '${flags.num}': expected a number`, EXIT_USAGE);
  const { client, app } = await appSession(io, flags);
  const query = `?tail=${tail}${flags.follow ? '&follow=1' : ''}`;
  const source = flags.source;
  await untilInterrupted(async (signal) => {
    for await (const event of client.events(`${appPath(app, 'logs')}${query}`, signal)) {
      if (event.event === 'end') break;
      if (event.event !== 'message') continue;
      const entry = parseLogData(event.data);
      if (source && entry.source !== source && !entry.source.startsWith(`${source}.`)) continue;
      io.out(flags.json ? `${JSON.stringify(entry)}\n` : formatLogLine(entry));
    }
  });
}

// ------------------------------------------------------------------------------ domains

export async function domains(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [info, list] = await Promise.all([
    client.get<App>(appPath(app)),
    client.get<Domain[]>(appPath(app, 'domains')),
  ]);
  if (flags.json) return io.out(json(list));
  io.out(header(`${app} Default Domain`));
  io.out(`${hostOf(info.webUrl)}\n`);
  if (list.length === 0) return;
  io.out(`\n${header(`${app} Custom Domains`)}`);
  io.out(columns([['Domain Name', 'Added'], ...list.map((d) => [d.hostname, shortAgo(d.createdAt)])]));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export async function domainsAdd(io: CliIo, hostname: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const domain = await action(io, `Adding ${hostname} to ${app}`, () =>
    client.post<Domain>(appPath(app, 'domains'), { hostname }),
  );
  if (flags.json) io.out(json(domain));
}

export async function domainsRemove(io: CliIo, hostname: string, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  await action(io, `Removing ${hostname} from ${app}`, () => client.delete<Domain>(appPath(app, 'domains', hostname)));
}

// ------------------------------------------------------------------------------- builds

export async function builds(io: CliIo, flags: AppFlags & JsonFlag & { num: string }): Promise<void> {
  const limit = Number(flags.num);
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`invalid --num '${flags.num}': expected a positive number`, EXIT_USAGE);
  const { client, app } = await appSession(io, flags);
  const list = (await client.get<Build[]>(appPath(app, 'builds'))).slice(0, limit);
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.out(`${app} has no builds: git push paas main starts one.\n`);
  io.out(header(`${app} Builds`));
  io.out(
    table(
      ['BUILD', 'STATUS', 'COMMIT', 'RELEASE', 'CREATED', 'ID'],
      list.map((b) => [
        `#${b.number}`,
        b.status,
        shortCommit(b.commit),
        b.release ? `v${b.release.version}` : '',
        shortAgo(b.createdAt),
        b.id,
      ]),
    ),
  );
}

/** A build named by `#3`, `3` or its id; the newest when not named. */
async function findBuild(client: ApiClient, app: string, ref: string | undefined): Promise<Build> {
  const number = ref === undefined ? undefined : /^#?(\d{1,9})$/.exec(ref)?.[1];
  if (ref !== undefined && number === undefined) return client.get<Build>(appPath(app, 'builds', ref));
  const list = await client.get<Build[]>(appPath(app, 'builds'));
  const found = number === undefined ? list[0] : list.find((b) => b.number === Number(number));
  if (!found)
    throw new CliError(number === undefined ? `${app} has no builds` : `build #${number} not found on ${app}`);
  return found;
}

export async function buildsInfo(io: CliIo, ref: string | undefined, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const found = await findBuild(client, app, ref);
  const build = await client.get<Build>(appPath(app, 'builds', found.id));
  if (flags.json) return io.out(json(build));
  io.out(header(`Build #${build.number} (${build.id})`));
  io.out(
    keyValues([
      ['Commit', build.commit ? `${build.commit}${build.ref ? ` (${build.ref})` : ''}` : undefined],
      ['Created', when(build.createdAt)],
      ['Error', build.error],
      ['Image', build.imageRef ? `${build.imageRef}${build.imageDigest ? `@${build.imageDigest}` : ''}` : undefined],
      [
        'Processes',
        build.processTypes && Object.keys(build.processTypes).length
          ? Object.entries(build.processTypes)
              .map(([t, c]) => `${t}: ${c}`)
              .join('\n')
          : undefined,
      ],
      ['Release', build.release ? `v${build.release.version}` : undefined],
      ['Stack', build.stack],
      ['Status', build.status],
      ['Updated', when(build.updatedAt)],
    ]),
  );
}

export async function buildsOutput(io: CliIo, ref: string | undefined, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const build = await findBuild(client, app, ref);
  let status: string | undefined;
  const result = await untilInterrupted(async (signal) => {
    for await (const event of client.events(appPath(app, 'builds', build.id, 'log'), signal)) {
      if (event.event === 'end') {
        try {
          status = (JSON.parse(event.data) as { status?: string }).status;
        } catch {
          status = event.data;
        }
        break;
      }
      if (event.event === 'message') io.out(`${event.data}\n`);
    }
  });
  if (result === 'interrupted') return;
  if (status === 'failed') throw new CliError(`build #${build.number} failed`);
}

// -------------------------------------------------------------------------------- nodes

export async function nodes(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const list = await client.get<Node[]>('/api/nodes');
  if (flags.json) return io.out(json(list));
  io.out(
    table(
      ['NAME', 'STATE', 'ADDRESS', 'CPUS', 'MEMORY', 'HEARTBEAT'],
      list.map((n) => [
        n.name,
        n.state,
        n.address ?? '',
        typeof n.cpus === 'number' ? String(n.cpus / 1000) : '',
        typeof n.memory === 'number' ? bytes(n.memory * 1024 * 1024) : '',
        n.lastHeartbeatAt ? shortAgo(n.lastHeartbeatAt) : 'never',
      ]),
    ),
  );
}

/** `nodes:drain NODE` and `nodes:activate NODE`. */
export async function nodesState(
  io: CliIo,
  name: string,
  action: 'drain' | 'activate',
  flags: JsonFlag,
): Promise<void> {
  const { client } = await session(io);
  const node = await client.post<Node>(`/api/nodes/${encodeURIComponent(name)}/${action}`, {});
  if (flags.json) return io.out(json(node));
  io.out(
    action === 'drain'
      ? `Draining ${node.name}: its instances move to other nodes, nothing new is placed on it\n`
      : `${node.name} is active: it takes instances again\n`,
  );
}

// ---------------------------------------------------------------------------------- run

export async function run(io: CliIo, command: string[], flags: AppFlags & { env?: string[] }): Promise<void> {
  if (command.length === 0) throw new CliError('a command to run is required: paas run -a APP COMMAND...', EXIT_USAGE);
  const env = parseAssignments(flags.env ?? []);
  const { client, app } = await appSession(io, flags);
  const body = {
    // One argument is a shell command line, as with `heroku run "rake db:migrate && echo ok"`.
    command: command.length === 1 ? command[0] : command,
    ...(Object.keys(env).length ? { env } : {}),
  };
  let code: number | undefined;
  const outcome = await untilInterrupted(async (signal) => {
    const res = await client.open('POST', appPath(app, 'runs'), { body, accept: 'text/plain', signal });
    const splitter = new ExitTrailerSplitter();
    const decoder = new StringDecoder('utf8');
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const text = decoder.write(splitter.push(chunk));
      if (text) io.out(text);
    }
    const end = splitter.end();
    const rest = decoder.write(end.rest) + decoder.end();
    if (rest) io.out(rest);
    code = end.code;
  });
  if (outcome === 'interrupted') throw new CliError('', 130);
  if (code === undefined) throw new CliError(`the connection to the api closed before the command's exit status came`);
  if (code !== 0) throw new CliError('', code);
}

// ------------------------------------------------------------------------ login, tokens

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line from the terminal; with `secret`, what is typed is not echoed. */
async function promptLine(prompt: string, secret = false): Promise<string> {
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(prompt, (answer) => resolve(answer.trim()));
      muted = secret;
    });
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}

export async function login(io: CliIo, flags: { api?: string; token?: string }): Promise<void> {
  const stored = await readLogin(io.env).catch(() => undefined);
  const url = normalizeUrl(
    flags.api || io.env['PAAS_API_URL'] || stored?.url || (await resolveTarget(io.env)).url,
    flags.api ? '--api' : 'PAAS_API_URL',
  );
  let token = flags.token;
  if (token === undefined) {
    token = process.stdin.isTTY
      ? await promptLine(`Token for ${url}: `, true)
      : (await readStdin())
          .split(/\r?\n/)
          .find((l) => l.trim() !== '')
          ?.trim();
  }
  if (!token) throw new CliError('a token is required: --token TOKEN, or on stdin');
  const client = new ApiClient(url, token);
  try {
    await client.get<App[]>('/api/apps');
  } catch (err) {
    if (err instanceof PlatformApiError && (err.status === 401 || err.status === 403)) {
      throw new CliError(`login to ${url} failed: the api refused the token (${err.code})`);
    }
    throw err;
  }
  await saveLogin(io.env, { url, token });
  io.out(`Logged in to ${url}\n`);
}

export async function logout(io: CliIo): Promise<void> {
  const removed = await removeLogin(io.env);
  if (removed) io.out(`Logged out${removed.url ? ` of ${removed.url}` : ''}\n`);
  else io.out('Not logged in\n');
}

export async function whoami(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client, target } = await session(io);
  const list = await client.get<App[]>('/api/apps');
  let admin = false;
  let name: string | undefined;
  try {
    const tokens = await client.get<Token[]>('/api/tokens');
    admin = true;
    name = tokens.find((t) => t.prefix && target.token?.startsWith(t.prefix))?.name;
  } catch (err) {
    if (!(err instanceof PlatformApiError && err.status === 403)) throw err;
  }
  const prefix = `${(target.token ?? '').slice(0, 9)}…`;
  if (flags.json) {
    return io.out(
      json({ url: target.url, token: prefix, source: target.from, name: name ?? null, admin, apps: list.length }),
    );
  }
  io.out(header(target.url));
  io.out(
    keyValues([
      ['Token', `${prefix} (from ${target.from})`],
      ['Name', name],
      ['Admin', admin ? 'yes' : 'no'],
      ['Apps', String(list.length)],
    ]),
  );
}

export async function tokens(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const list = await client.get<Token[]>('/api/tokens');
  if (flags.json) return io.out(json(list));
  io.out(
    table(
      ['ID', 'NAME', 'PREFIX', 'KIND', 'APPS', 'CREATED', 'LAST USED'],
      list.map((t) => [
        t.id,
        t.name,
        t.prefix,
        t.admin ? 'admin' : t.node ? 'node' : 'apps',
        t.node ? '(none)' : t.apps === null ? '(all)' : t.apps.join(','),
        shortAgo(t.createdAt),
        t.lastUsedAt ? shortAgo(t.lastUsedAt) : 'never',
      ]),
    ),
  );
}

export async function tokensCreate(
  io: CliIo,
  name: string,
  flags: JsonFlag & { apps?: string; admin?: boolean; node?: boolean },
): Promise<void> {
  if (flags.node && (flags.admin || flags.apps !== undefined))
    throw new CliError('--node makes a token for an agent, for no app: leave out --apps and --admin');
  const { client } = await session(io);
  const apps = flags.apps
    ?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const created = await client.post<IssuedToken>('/api/tokens', {
    name,
    ...(apps?.length ? { apps } : {}),
    ...(flags.admin ? { admin: true } : {}),
    ...(flags.node ? { node: true } : {}),
  });
  if (flags.json) return io.out(json(created));
  io.err(`Created token ${created.name} (${created.id}); it is shown only once:\n`);
  io.out(`${created.token}\n`);
}

export async function tokensRevoke(io: CliIo, id: string): Promise<void> {
  const { client } = await session(io);
  await action(
    io,
    `Revoking token ${id}`,
    () => client.delete<Token>(apiPath('tokens', id)),
    (t) => `done (${t.name})`,
  );
}
