/**
 * `releases`, `releases:info`, `releases:output`, `rollback`. Definitions only; the work is loaded on use from
 * ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function releasesCommands(io: CliIo): Command[] {
  const releases = withJson(withApp(command('releases', "List an app's releases")))
    .option('-n, --num <N>', 'How many releases to show', '15')
    .action(
      act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean; num: string }) =>
        a.releases(io, flags),
      ),
    );
  const releasesInfo = withJson(withApp(command('releases:info', 'Show a release (the current one by default)')))
    .argument('[vN]')
    .option('-s, --shell', "Print the release's config vars as KEY=value lines")
    .action(
      act(
        io,
        actions,
        (a, version: string | undefined, flags: { app?: string; remote?: string; json?: boolean; shell?: boolean }) =>
          a.releasesInfo(io, version, flags),
      ),
    );
  const releasesOutput = withApp(
    command('releases:output', 'Show what the release command of a release printed (the current one by default)'),
  )
    .argument('[vN]')
    .action(
      act(io, actions, (a, version: string | undefined, flags: { app?: string; remote?: string }) =>
        a.releasesOutput(io, version, flags),
      ),
    );
  const rollback = withJson(withApp(command('rollback', 'Roll back to a release (the previous one by default)')))
    .argument('[vN]')
    .option('--no-wait', 'Do not wait for the new release to deploy')
    .action(
      act(
        io,
        actions,
        (a, version: string | undefined, flags: { app?: string; remote?: string; json?: boolean; wait?: boolean }) =>
          a.rollback(io, version, flags),
      ),
    );
  return [releases, releasesInfo, releasesOutput, rollback];
}
