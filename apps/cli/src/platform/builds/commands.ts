/**
 * `builds`, `builds:info`, `builds:output`. Definitions only; the work is loaded on use from
 * ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function buildsCommands(io: CliIo): Command[] {
  const builds = withJson(withApp(command('builds', "List an app's builds")))
    .option('-n, --num <N>', 'How many builds to show', '15')
    .action(
      act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean; num: string }) =>
        a.builds(io, flags),
      ),
    );
  const buildsInfo = withJson(withApp(command('builds:info', 'Show a build (#N or id; the newest by default)')))
    .argument('[BUILD]')
    .action(
      act(io, actions, (a, ref: string | undefined, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.buildsInfo(io, ref, flags),
      ),
    );
  const buildsOutput = withApp(command('builds:output', "Stream a build's output (#N or id; the newest by default)"))
    .argument('[BUILD]')
    .action(
      act(io, actions, (a, ref: string | undefined, flags: { app?: string; remote?: string }) =>
        a.buildsOutput(io, ref, flags),
      ),
    );
  return [builds, buildsInfo, buildsOutput];
}
