/**
 * `config`, `config:get`, `config:set`, `config:unset`, `config:edit`. Definitions only; the work
 * is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function configCommands(io: CliIo): Command[] {
  const config = withJson(withApp(command('config', "Show an app's config vars")))
    .option('-s, --shell', 'Print as KEY=value lines for a shell')
    .action(
      act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean; shell?: boolean }) =>
        a.config(io, flags),
      ),
    );
  const configGet = withApp(command('config:get', 'Print the value of one config var'))
    .argument('<KEY>')
    .option('-s, --shell', 'Print as KEY=value')
    .action(
      act(io, actions, (a, key: string, flags: { app?: string; remote?: string; shell?: boolean }) =>
        a.configGet(io, key, flags),
      ),
    );
  const configSet = withJson(withApp(command('config:set', 'Set config vars (makes a new release)')))
    .argument('<KEY=VALUE...>')
    .option('--no-wait', 'Do not wait for the new release to deploy')
    .action(
      act(io, actions, (a, args: string[], flags: { app?: string; remote?: string; json?: boolean; wait?: boolean }) =>
        a.configSet(io, args, flags),
      ),
    );
  const configUnset = withApp(command('config:unset', 'Unset config vars (makes a new release)'))
    .argument('<KEY...>')
    .option('--no-wait', 'Do not wait for the new release to deploy')
    .action(
      act(io, actions, (a, keys: string[], flags: { app?: string; remote?: string; wait?: boolean }) =>
        a.configUnset(io, keys, flags),
      ),
    );
  const configEdit = withApp(command('config:edit', 'Edit config vars in $VISUAL or $EDITOR (one release)'))
    .option('--no-wait', 'Do not wait for the new release to deploy')
    .action(act(io, actions, (a, flags: { app?: string; remote?: string; wait?: boolean }) => a.configEdit(io, flags)));
  return [config, configGet, configSet, configUnset, configEdit];
}
