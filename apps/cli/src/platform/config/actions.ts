/**
 * `config`, `config:get`, `config:set`, `config:unset`, `config:edit`: an app's config vars (a
 * change makes a new release). Loaded on use from ./commands.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Release } from '@paas/api-types';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import { header, json, keyValues, listing, shellQuote } from '../format';
import { parseShellLines, shellLines } from './shell-format';
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
  if (flags.shell) return io.out(shellLines(vars));
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

/** What config:edit writes above the vars. */
function editHeader(app: string): string {
  return (
    `# Config vars of ${app}: KEY=value, one a line, quoted as in a shell ('...' for spaces,\n` +
    `# quotes and newlines). Change, add, or delete a line to unset its var; lines starting\n` +
    `# with # are ignored. Saved changes are applied as one release when the editor exits.\n`
  );
}

/** Runs `$VISUAL`/`$EDITOR` (a shell command line, as git runs it; default vi) on `file`. */
function runEditor(io: CliIo, file: string): Promise<void> {
  const editor = io.env['VISUAL'] || io.env['EDITOR'] || 'vi';
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, editor, file], { env: { ...io.env }, stdio: 'inherit' });
    child.once('error', (err) =>
      reject(new CliError(`cannot run the editor ${JSON.stringify(editor)}: ${err.message}`)),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CliError(`the editor ${JSON.stringify(editor)} exited ${signal ?? code}`));
    });
  });
}

/**
 * `config:edit`: the vars in a file (0600, in a directory of its own) for `$VISUAL`/`$EDITOR`,
 * the difference applied as one release (set and unset in one PATCH: nulls unset). Unchanged:
 * no release. The file is removed once applied or found unchanged; kept, and named, when the
 * edit cannot be applied, so that it is not lost.
 */
export async function configEdit(io: CliIo, flags: AppFlags & WaitFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const before = await client.get<Record<string, string>>(appPath(app, 'config-vars'));
  const dir = mkdtempSync(join(io.env['TMPDIR'] || tmpdir(), 'paas-config-'));
  const file = join(dir, `${app}.env`);
  writeFileSync(file, editHeader(app) + shellLines(before), { mode: 0o600, flag: 'wx' });
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const kept = (why: string): CliError =>
    new CliError(`${why}; nothing changed, no release (your edit is kept in ${file})`);
  let after: Record<string, string>;
  try {
    await runEditor(io, file);
    after = parseShellLines(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof CliError) throw kept(err.message); // a ConfigFileError says its line
    throw err;
  }
  const set = Object.keys(after).filter((k) => before[k] !== after[k]);
  const unset = Object.keys(before).filter((k) => !Object.hasOwn(after, k));
  if (set.length === 0 && unset.length === 0) {
    remove();
    io.err(`No changes to the config vars of ${app}: no release\n`);
    return;
  }
  const changes: Record<string, string | null> = Object.fromEntries([
    ...set.map((k): [string, string | null] => [k, after[k] ?? '']),
    ...unset.map((k): [string, string | null] => [k, null]),
  ]);
  const what = [set.length ? `setting ${listing(set)}` : '', unset.length ? `unsetting ${listing(unset)}` : '']
    .filter(Boolean)
    .join(' and ');
  let release: Release | null;
  try {
    release = await action(
      io,
      `${what.charAt(0).toUpperCase()}${what.slice(1)} and restarting ${app}`,
      async () => {
        await client.patch(appPath(app, 'config-vars'), changes);
        return madeRelease(client, app, flags.wait !== false);
      },
      (r) => `done, ${outcome(r)}`,
    );
  } catch (err) {
    io.err(`Your edit is kept in ${file}\n`);
    throw err;
  }
  remove();
  if (release) failIfFailed(release);
}
