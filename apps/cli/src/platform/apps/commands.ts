/**
 * `apps`, `apps:create`, `apps:destroy`, `apps:info`, `apps:rename`, `open`. Definitions only;
 * the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function appsCommands(io: CliIo): Command[] {
  const apps = withJson(command('apps', 'List your apps')).action(
    act(io, actions, (a, flags: { json?: boolean }) => a.apps(io, flags)),
  );
  const appsCreate = withJson(command('apps:create', 'Create an app and add its git remote to the current repo'))
    .argument('<NAME>', 'The app name: a DNS label such as my-app')
    .option('-r, --remote <REMOTE>', 'The name of the git remote to add', 'paas')
    .option('--no-git-remote', 'Do not add a git remote')
    .action(
      act(io, actions, (a, name: string, flags: { json?: boolean; remote?: string; gitRemote: boolean }) =>
        a.appsCreate(io, name, flags),
      ),
    );
  const appsDestroy = withApp(command('apps:destroy', 'Permanently destroy an app'))
    .option('--confirm <APP>', 'The app name again, to confirm')
    .action(
      act(io, actions, (a, flags: { app?: string; remote?: string; confirm?: string }) => a.appsDestroy(io, flags)),
    );
  const appsInfo = withJson(withApp(command('apps:info', 'Show the details of an app'))).action(
    act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.appsInfo(io, flags)),
  );
  const appsRename = withJson(withApp(command('apps:rename', 'Rename an app (and update its git remote)')))
    .argument('<NEWNAME>')
    .action(
      act(io, actions, (a, name: string, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.appsRename(io, name, flags),
      ),
    );
  const open = withApp(command('open', "Print the app's URL, and open it in a browser when there is one"))
    .alias('apps:open')
    .argument('[PATH]', 'A path on the app, e.g. /admin')
    .action(
      act(io, actions, (a, path: string | undefined, flags: { app?: string; remote?: string }) =>
        a.appsOpen(io, path, flags),
      ),
    );
  return [apps, appsCreate, appsDestroy, appsInfo, appsRename, open];
}
