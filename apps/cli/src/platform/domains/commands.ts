/**
 * `domains`, `domains:add`, `domains:remove`, `domains:clear`. Definitions only; the work is loaded on use from
 * ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function domainsCommands(io: CliIo): Command[] {
  const domains = withJson(withApp(command('domains', "List an app's domains"))).action(
    act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.domains(io, flags)),
  );
  const domainsAdd = withJson(withApp(command('domains:add', 'Add a custom domain to an app')))
    .argument('<HOSTNAME>')
    .action(
      act(io, actions, (a, host: string, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.domainsAdd(io, host, flags),
      ),
    );
  const domainsRemove = withApp(command('domains:remove', 'Remove a custom domain from an app'))
    .argument('<HOSTNAME>')
    .action(
      act(io, actions, (a, host: string, flags: { app?: string; remote?: string }) => a.domainsRemove(io, host, flags)),
    );
  const domainsClear = withApp(command('domains:clear', 'Remove every custom domain of an app')).action(
    act(io, actions, (a, flags: { app?: string; remote?: string }) => a.domainsClear(io, flags)),
  );
  return [domains, domainsAdd, domainsRemove, domainsClear];
}
