/**
 * `pg:backups`, `pg:backups:capture`, `pg:backups:restore`, `pg:backups:download`,
 * `pg:backups:delete`, `pg:backups:schedule`, `pg:backups:unschedule`: backups of an app's
 * PostgreSQL add-ons, as Heroku's. Definitions only; the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };

export function pgCommands(io: CliIo): Command[] {
  const backups = withJson(withApp(command('pg:backups', "List the backups of an app's PostgreSQL add-ons"))).action(
    act(io, actions, (a, flags: Flags) => a.pgBackups(io, flags)),
  );
  const capture = withJson(withApp(command('pg:backups:capture', 'Capture a backup of a PostgreSQL add-on')))
    .argument('[NAME]', "the add-on or its config var (default: the app's only postgres add-on)")
    .action(act(io, actions, (a, name: string | undefined, flags: Flags) => a.pgBackupsCapture(io, name, flags)));
  const restore = withApp(
    command('pg:backups:restore', 'Restore a backup into a PostgreSQL add-on, replacing its data'),
  )
    .argument('[ID]', 'bNNN, ADDON::bNNN or a backup id (default: the latest backup of the add-on)')
    .argument('[NAME]', "the add-on to restore into (default: the app's only postgres add-on)")
    .option('--to <NAME>', 'the add-on to restore into (as NAME)')
    .option('--confirm <APP>', 'the app name, to confirm')
    .action(
      act(
        io,
        actions,
        (a, id: string | undefined, name: string | undefined, flags: Flags & { confirm?: string; to?: string }) =>
          a.pgBackupsRestore(io, id, name, flags),
      ),
    );
  const download = withApp(command('pg:backups:download', 'Download a backup (pg_restore reads it)'))
    .argument('[ID]', 'bNNN, ADDON::bNNN or a backup id (default: the latest backup)')
    .option('-o, --output <FILE>', 'where to write it', 'latest.dump')
    .action(
      act(io, actions, (a, id: string | undefined, flags: Flags & { output: string }) =>
        a.pgBackupsDownload(io, id, flags),
      ),
    );
  const remove = withApp(command('pg:backups:delete', 'Delete a backup'))
    .argument('<ID>', 'bNNN, ADDON::bNNN or a backup id')
    .option('--confirm <APP>', 'the app name, to confirm')
    .action(act(io, actions, (a, id: string, flags: Flags & { confirm?: string }) => a.pgBackupsDelete(io, id, flags)));
  const schedule = withApp(command('pg:backups:schedule', 'Capture a backup of a PostgreSQL add-on every day'))
    .argument('[NAME]', "the add-on or its config var (default: the app's only postgres add-on)")
    .requiredOption('--at <HOUR>', "the hour of the day, UTC: '2', '02:00' or '02:00 UTC'")
    .action(
      act(io, actions, (a, name: string | undefined, flags: Flags & { at: string }) =>
        a.pgBackupsSchedule(io, name, flags),
      ),
    );
  const unschedule = withApp(command('pg:backups:unschedule', 'Stop the daily backups of a PostgreSQL add-on'))
    .argument('[NAME]', "the add-on or its config var (default: the app's only postgres add-on)")
    .action(act(io, actions, (a, name: string | undefined, flags: Flags) => a.pgBackupsUnschedule(io, name, flags)));
  return [backups, capture, restore, download, remove, schedule, unschedule];
}
