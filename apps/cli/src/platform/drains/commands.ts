/**
 * `drains`, `drains:add`, `drains:remove`: an app's log drains. Definitions only; the work is
 * loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function drainsCommands(io: CliIo): Command[] {
  const drains = withJson(withApp(command('drains', "List an app's log drains and how delivery stands"))).action(
    act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.drains(io, flags)),
  );
  const drainsAdd = withJson(
    withApp(
      command('drains:add', "Forward an app's log to URL: https://..., syslog+tls://HOST:PORT or syslog://HOST:PORT"),
    ),
  )
    .argument('<URL>')
    .action(
      act(io, actions, (a, url: string, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.drainsAdd(io, url, flags),
      ),
    );
  const drainsRemove = withApp(command('drains:remove', 'Remove a log drain, by its URL or its id'))
    .argument('<URL|ID>')
    .action(
      act(io, actions, (a, drain: string, flags: { app?: string; remote?: string }) =>
        a.drainsRemove(io, drain, flags),
      ),
    );
  return [drains, drainsAdd, drainsRemove];
}
