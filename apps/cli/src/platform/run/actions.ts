/**
 * `run -a APP COMMAND...`: a one-off command in a new container of the app's release, its
 * output streamed and its exit status the CLI's; on a terminal of its own, typed into, when
 * this one is a terminal (`--no-tty`: never). Loaded on use from ./commands.ts.
 */
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { runOneOff, runOneOffTerminal } from '../one-off';
import { appSession, parseAssignments } from '../session';

export async function run(
  io: CliIo,
  command: string[],
  flags: AppFlags & { env?: string[]; tty?: boolean },
): Promise<void> {
  if (command.length === 0) throw new CliError('a command to run is required: paas run -a APP COMMAND...', EXIT_USAGE);
  const env = parseAssignments(flags.env ?? []);
  const { client, app } = await appSession(io, flags);
  const body = {
    // One argument is a shell command line, as with `heroku run "rake db:migrate && echo ok"`.
    command: command.length === 1 ? (command[0] as string) : command,
    ...(Object.keys(env).length ? { env } : {}),
  };
  // Heroku's default: a terminal when this is one (stdin and stdout), unless --no-tty
  if (flags.tty !== false && process.stdin.isTTY && process.stdout.isTTY) await runOneOffTerminal(client, app, body);
  else await runOneOff(io, client, app, body);
}
