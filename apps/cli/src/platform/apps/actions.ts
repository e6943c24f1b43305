/**
 * `apps`, `apps:create`, `apps:destroy`, `apps:info`, `apps:rename`, and the git remote each
 * keeps in step (with `paas git:credentials` as its credential helper). Loaded on use from
 * ./commands.ts.
 */
import { basename, resolve } from 'node:path';
import type { App, Certificate, Domain, Formation, HttpsSettings } from '@paas/api-types';
import type { TrustedCa } from '@paas/config';
import { CliError } from '../../errors';
import type { CliIo } from '../../io';
import { type AppFlags, DEFAULT_REMOTE, appFromGitUrl, git, insideWorkTree, remoteUrl } from '../app';
import { columns, header, json, keyValues, shellQuote, when } from '../format';
import { formatFormation } from '../scale';
import { type JsonFlag, action, appPath, appSession, session } from '../session';
import { promptLine } from '../../terminal';

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
  const { client, target } = await session(io);
  const app = await action(io, `Creating ${name}`, () => client.post<App>('/api/apps', { name }));
  if (flags.json) io.out(json(app));
  else io.out(`${app.webUrl} | ${app.gitUrl}\n`);
  if (flags.gitRemote) await addRemote(io, flags.remote || DEFAULT_REMOTE, app.gitUrl, target.ca);
}

/**
 * `git remote add` in the current repository when it has no remote by that name yet, and
 * `paas git:credentials` as the repository's credential helper for the api, so that
 * `git push paas main` authenticates with the CLI's token without asking. An https api's
 * CA (the platform CA) becomes git's `http.<origin>/.sslCAInfo` for that api only.
 */
async function addRemote(io: CliIo, remote: string, url: string, ca: TrustedCa | null): Promise<void> {
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
  if (ca && url.startsWith('https:'))
    await git(['config', `http.${new URL(url).origin}/.sslCAInfo`, resolve(ca.file)], dir);
}

/** How git runs this CLI as a credential helper: by its absolute path when started as `paas`. */
export function credentialHelper(self = process.argv[1]): string {
  if (self && basename(self) === 'paas') return `!${shellQuote(resolve(self))} git:credentials`;
  return '!paas git:credentials';
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
    io.err(
      `WARNING: this will delete ${app} with its config, builds, releases, processes, domains and certificates.\n`,
    );
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
      ['Maintenance', info.maintenance ? 'on (the routers answer 503)' : 'off'],
      ['Processes', formation.length ? formation.map(formatFormation).join(' ') : undefined],
      ['Release', info.release ? `v${info.release.version}` : 'none (push to deploy)'],
      ['Created', when(info.createdAt)],
      ['Web URL', info.webUrl],
    ]),
  );
}

/** `paas open [PATH]`: prints the app's URL, and opens it where a browser can show it. */
export async function appsOpen(io: CliIo, path: string | undefined, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [info, https, certs] = await Promise.all([
    client.get<App>(appPath(app)),
    client.get<HttpsSettings>(appPath(app, 'https')),
    client.get<Certificate[]>(appPath(app, 'certs')),
  ]);
  const { openInBrowser, openUrl } = await import('./open');
  const url = openUrl(info, https, certs, path);
  io.out(`${url}\n`);
  const failed = await openInBrowser(io.env, url);
  if (failed) io.err(`Could not open a browser (${failed}): open the URL above yourself\n`);
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
