/**
 * `config`, `config:get`, `config:set`, `config:unset`: an app's config vars (a change makes a
 * new release). Loaded on use from ./commands.ts.
 */
import type { Release } from '@paas/api-types';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import { header, json, keyValues, listing, shellQuote } from '../format';
import { failIfFailed, followRelease, releaseOutcome } from '../releases/follow';
import { type JsonFlag, action, appPath, appSession, parseAssignments } from '../session';

export interface WaitFlag {
  /** commander's `--no-wait`. */
  readonly wait?: boolean;
}

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

/** The release a config change made (the newest), followed while it deploys; null before any. */
async function madeRelease(client: ApiClient, app: string, wait: boolean): Promise<Release | null> {
  const [newest] = await client.get<Release[]>(appPath(app, 'releases'));
  return newest ? followRelease(client, app, newest, wait) : null;
}

const outcome = (r: Release | null): string => (r ? releaseOutcome(r) : 'no release yet');

export async function configSet(io: CliIo, args: string[], flags: AppFlags & JsonFlag & WaitFlag): Promise<void> {
  const changes = parseAssignments(args);
  const { client, app } = await appSession(io, flags);
  const keys = Object.keys(changes);
  let vars = await client.get<Record<string, string>>(appPath(app, 'config-vars'));
  if (keys.every((k) => vars[k] === changes[k])) {
    // the api would make no release either: nothing restarts
    io.err(
      `${listing(keys)} ${keys.length === 1 ? 'has this value' : 'have these values'} on ${app} already: no change, no release\n`,
    );
    if (flags.json) io.out(json(vars));
    else io.out(keyValues(keys.map((k) => [k, vars[k] ?? ''])));
    return;
  }
  const release = await action(
    io,
    `Setting ${listing(keys)} and restarting ${app}`,
    async () => {
      vars = await client.patch<Record<string, string>>(appPath(app, 'config-vars'), changes);
      return madeRelease(client, app, flags.wait !== false);
    },
    (r) => `done, ${outcome(r)}`,
  );
  if (flags.json) io.out(json(vars));
  else io.out(keyValues(keys.map((k) => [k, vars[k] ?? changes[k] ?? ''])));
  if (release) failIfFailed(release);
}

export async function configUnset(io: CliIo, keys: string[], flags: AppFlags & WaitFlag): Promise<void> {
  for (const key of keys) {
    if (key.includes('='))
      throw new CliError(`invalid config var name '${key}': config:unset takes names, not KEY=value`, EXIT_USAGE);
  }
  const { client, app } = await appSession(io, flags);
  const vars = await client.get<Record<string, string>>(appPath(app, 'config-vars'));
  const missing = keys.filter((k) => !Object.hasOwn(vars, k));
  const present = keys.filter((k) => Object.hasOwn(vars, k));
  if (missing.length > 0) {
    const verb = missing.length === 1 ? 'is' : 'are';
    io.err(`${listing(missing)} ${verb} not set on ${app}${present.length === 0 ? ': no change, no release' : ''}\n`);
  }
  if (present.length === 0) return;
  const release = await action(
    io,
    `Unsetting ${listing(present)} and restarting ${app}`,
    async () => {
      await client.patch(appPath(app, 'config-vars'), Object.fromEntries(present.map((k) => [k, null])));
      return madeRelease(client, app, flags.wait !== false);
    },
    (r) => `done, ${outcome(r)}`,
  );
  if (release) failIfFailed(release);
}
