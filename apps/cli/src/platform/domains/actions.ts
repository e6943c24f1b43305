/**
 * `domains`, `domains:add`, `domains:remove`, `domains:clear`: an app's default and custom domains. Loaded on
 * use from ./commands.ts.
 */
import type { App, Domain } from '@paas/api-types';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { columns, header, json, shortAgo } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

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

/** `domains:clear` (Heroku's): every custom domain goes; the default one stays. */
export async function domainsClear(io: CliIo, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const list = await client.get<Domain[]>(appPath(app, 'domains'));
  if (list.length === 0) return io.err(`${app} has no custom domains: nothing to remove\n`);
  await action(
    io,
    `Removing ${list.length === 1 ? 'the custom domain' : `all ${list.length} custom domains`} from ${app}`,
    async () => {
      for (const d of list) await client.delete<Domain>(appPath(app, 'domains', d.hostname));
    },
  );
}
