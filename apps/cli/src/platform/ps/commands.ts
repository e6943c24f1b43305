/**
 * `ps:scale`, and the platform's `ps -a APP` (a verb the engine has too: ../route.ts decides
 * which one a command line means). Definitions only; the work is loaded on use from ./actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function psScaleCommand(io: CliIo): Command {
  return withJson(withApp(command('ps:scale', 'Scale process types (web=3 worker=+1 web=2:512M), or show')))
    .argument('[TYPE=QUANTITY...]')
    .action(
      act(io, actions, (a, args: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
        a.psScale(io, args, flags),
      ),
    );
}

export function psCommand(io: CliIo): Command {
  return withJson(withApp(new Command('ps').description("List an app's processes (instances)")))
    .argument('[TYPE...]', 'Only these process types')
    .action(
      act(io, actions, (a, types: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
        a.ps(io, types, flags),
      ),
    );
}
