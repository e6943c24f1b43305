/**
 * `run -a APP COMMAND...`: a one-off command in a new container of the app's release, its
 * output streamed and its exit status the CLI's. Loaded on use from ./commands.ts.
 */
import { StringDecoder } from 'node:string_decoder';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { ExitTrailerSplitter } from '../exit-trailer';
import { appPath, appSession, parseAssignments } from '../session';
import { untilInterrupted } from '../../terminal';

export async function run(io: CliIo, command: string[], flags: AppFlags & { env?: string[] }): Promise<void> {
  if (command.length === 0) throw new CliError('a command to run is required: paas run -a APP COMMAND...', EXIT_USAGE);
  const env = parseAssignments(flags.env ?? []);
  const { client, app } = await appSession(io, flags);
  const body = {
    // One argument is a shell command line, as with `heroku run "rake db:migrate && echo ok"`.
    command: command.length === 1 ? command[0] : command,
    ...(Object.keys(env).length ? { env } : {}),
  };
  let code: number | undefined;
  const outcome = await untilInterrupted(async (signal) => {
    const res = await client.open('POST', appPath(app, 'runs'), { body, accept: 'text/plain', signal });
    const splitter = new ExitTrailerSplitter();
    const decoder = new StringDecoder('utf8');
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const text = decoder.write(splitter.push(chunk));
      if (text) io.out(text);
    }
    const end = splitter.end();
    const rest = decoder.write(end.rest) + decoder.end();
    if (rest) io.out(rest);
    code = end.code;
  });
  if (outcome === 'interrupted') throw new CliError('', 130);
  if (code === undefined) throw new CliError(`the connection to the api closed before the command's exit status came`);
  if (code !== 0) throw new CliError('', code);
}
