/**
 * `addons`, `addons:create`, `addons:info`, `addons:attach`, `addons:detach`, `addons:destroy`:
 * managed PostgreSQL and Redis (#22); `pg:psql` and `redis:cli`: their clients in a one-off
 * run. Definitions only; the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, collect, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };

export function addonsCommands(io: CliIo): Command[] {
  const addons = withJson(
    withApp(command('addons', "List an app's add-ons (without an app: every add-on you may see)")),
  ).action(act(io, actions, (a, flags: Flags) => a.addons(io, flags)));
  const create = withJson(withApp(command('addons:create', 'Create a managed PostgreSQL or Redis for an app')))
    .argument('<TYPE>', 'postgres or redis')
    .option('--as <NAME>', 'Attach it as NAME: the config var is NAME_URL (default DATABASE_URL or REDIS_URL)')
    .option('--name <NAME>', 'The add-on name (default: generated, e.g. postgres-amber-12345)')
    .option('--size <SIZE>', 'The memory and CPU it gets, as ps:resize takes them (basic, standard-2x, 512M...)')
    .action(
      act(io, actions, (a, type: string, flags: Flags & { as?: string; name?: string; size?: string }) =>
        a.addonsCreate(io, type, flags),
      ),
    );
  const info = withJson(command('addons:info', 'Show an add-on: its state, node and attachments'))
    .argument('<NAME>')
    .action(act(io, actions, (a, name: string, flags: { json?: boolean }) => a.addonsInfo(io, name, flags)));
  const attach = withJson(withApp(command('addons:attach', 'Attach an add-on to another app (sets its config var)')))
    .argument('<NAME>')
    .option('--as <NAME>', 'Attach it as NAME: the config var is NAME_URL')
    .action(act(io, actions, (a, name: string, flags: Flags & { as?: string }) => a.addonsAttach(io, name, flags)));
  const detach = withApp(command('addons:detach', 'Detach an add-on from an app (unsets its config var)'))
    .argument('<NAME>')
    .action(act(io, actions, (a, name: string, flags: Flags) => a.addonsDetach(io, name, flags)));
  const destroy = command('addons:destroy', 'Permanently destroy an add-on and its data (backups are kept)')
    .argument('<NAME>')
    .option('--confirm <NAME>', 'The add-on name again, to confirm')
    .action(act(io, actions, (a, name: string, flags: { confirm?: string }) => a.addonsDestroy(io, name, flags)));
  const psql = withApp(command('pg:psql', "Run SQL with psql against an app's PostgreSQL add-on, in a one-off"))
    .argument('[NAME]', "The add-on (default: the app's only PostgreSQL add-on)")
    .option('-c, --command <SQL>', 'The SQL to run (repeatable, as psql -c)', collect)
    .action(
      act(io, actions, (a, name: string | undefined, flags: Flags & { command?: string[] }) =>
        a.pgPsql(io, name, flags),
      ),
    );
  const redisCli = withApp(command('redis:cli', "Run a redis-cli command against an app's Redis add-on, in a one-off"))
    .argument('[NAME]', "The add-on (default: the app's only Redis add-on)")
    .argument('[ARGS...]', "redis-cli's arguments: a command such as PING (its own options after --)")
    .action(
      act(io, actions, (a, name: string | undefined, args: string[], flags: Flags) =>
        a.redisCli(io, name === undefined ? args : [name, ...args], flags),
      ),
    );
  return [addons, create, info, attach, detach, destroy, psql, redisCli];
}
