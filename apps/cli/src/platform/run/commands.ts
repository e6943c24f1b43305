/**
 * The platform's `run -a APP COMMAND...` (a verb the engine has too: ../route.ts decides which
 * one a command line means). Definitions only; the work is loaded on use from ./actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, collect, withApp } from '../define';

const actions = () => import('./actions');

export function runCommand(io: CliIo): Command {
  return withApp(new Command('run').description("Run a one-off command in a new container of the app's release"))
    .argument('<COMMAND...>')
    .passThroughOptions()
    .option('-e, --env <KEY=VALUE>', 'Set an environment variable for the run', collect)
    .option('--no-tty', 'Stream the output without a terminal, even from one')
    .action(
      act(io, actions, (a, cmd: string[], flags: { app?: string; remote?: string; env?: string[]; tty?: boolean }) =>
        a.run(io, cmd, flags),
      ),
    );
}
