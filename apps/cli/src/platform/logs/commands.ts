/**
 * The platform's `logs -a APP` (a verb the engine has too: ../route.ts decides which one a
 * command line means). Definitions only; the work is loaded on use from ./actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function logsCommand(io: CliIo): Command {
  return withJson(withApp(new Command('logs').description("Show an app's logs (platform events and processes)")))
    .option('-n, --num <N>', 'How many lines to show first', '100')
    .option('-f, --follow', 'Keep streaming new lines')
    .option('-t, --tail', 'The same as --follow (Heroku)')
    .option('-p, --ps <PROCESS>', 'Only lines of this process type or instance: web, web.1')
    .option('-d, --dyno <PROCESS>', 'The same as --ps (Heroku)')
    .option(
      '-s, --source <SOURCE>',
      "Only the app's processes (app), only the platform's events (paas), or one source: web.1, api, build...",
    )
    .action(
      act(
        io,
        actions,
        (
          a,
          flags: {
            app?: string;
            remote?: string;
            json?: boolean;
            num: string;
            follow?: boolean;
            tail?: boolean;
            ps?: string;
            dyno?: string;
            source?: string;
          },
        ) => a.logs(io, flags),
      ),
    );
}
