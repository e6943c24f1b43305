/**
 * The pieces every platform verb's definition is made of: the help group, `-a/--app` and
 * `-r/--remote`, `--json`, and `act`, which loads the verb's own actions module on use and
 * turns a platform failure into `paas: <message>` and an exit code (./session.ts `fail`).
 * Kept free of the actions: it is loaded on every invocation.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';

const PLATFORM_GROUP = 'Platform Commands (heroku-like):';

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Runs an action of the module `load` gives, turning platform failures into `paas: <message>` and an exit code. */
export function act<M, A extends unknown[]>(
  io: CliIo,
  load: () => Promise<M>,
  fn: (actions: M, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const actions = await load();
    try {
      await fn(actions, ...args);
    } catch (err) {
      await (await import('./session')).fail(io, err);
    }
  };
}

export function command(name: string, description: string): Command {
  return new Command(name).description(description).helpGroup(PLATFORM_GROUP);
}

/** `-a/--app` and `-r/--remote`: which app a command is about. */
export function withApp(cmd: Command): Command {
  return cmd
    .option('-a, --app <APP>', 'The app (default: $PAAS_APP, or the app of the "paas" git remote)')
    .option('-r, --remote <REMOTE>', 'The git remote that names the app (default: paas)');
}

export const withJson = (cmd: Command): Command => cmd.option('--json', 'Print JSON');
