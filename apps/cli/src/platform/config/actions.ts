/**
 * `config`, `config:get`, `config:set`, `config:unset`: an app's config vars (a change makes a
 * new release). Loaded on use from ./commands.ts.
 */
import type { App } from '@paas/api-types';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import { header, json, keyValues, listing, shellQuote } from '../format';
import { type JsonFlag, action, appPath, appSession, parseAssignments } from '../session';

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
