/**
 * `volume create|ls|inspect|rm|prune`, as Docker spells them. Definitions only; the work is
 * loaded on use from ../volumes/actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';

const actions = () => import('../volumes/actions');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function volumeCommand(io: CliIo): Command {
  const volume = new Command('volume').description('Manage volumes');
  volume
    .command('create')
    .description('Create a volume')
    .argument('[VOLUME]')
    .option('-d, --driver <DRIVER>', 'Specify volume driver name (only local)', 'local')
    .option('--label <KEY=VALUE>', 'Set metadata for a volume', collect)
    .action(async (name: string | undefined, opts: { driver: string; label?: string[] }) =>
      (await actions()).create(io, name, opts),
    );
  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'Only display volume names')
    .option('-f, --filter <FILTER>', "Provide filter values (e.g. 'dangling=true', 'label=k=v', 'name=x')", collect)
    .option('--format <TEMPLATE>', 'Format output using a Go template subset ({{.Name}}, {{json .}})')
    .action(async (opts: { quiet?: boolean; filter?: string[]; format?: string }) => (await actions()).ls(io, opts));
  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --format <TEMPLATE>', 'Format output using a Go template subset ({{.Mountpoint}}, {{json .Labels}})')
    .action(async (names: string[], opts: { format?: string }) => (await actions()).inspect(io, names, opts));
  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes. You cannot remove a volume that is in use by a container.')
    .argument('<VOLUME...>')
    .option('-f, --force', 'Force the removal of one or more volumes (a missing one is not an error)')
    .action(async (names: string[], opts: { force?: boolean }) => (await actions()).rm(io, names, opts));
  volume
    .command('prune')
    .description('Remove unused local volumes (anonymous ones unless --all)')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <FILTER>', "Provide filter values (e.g. 'label=<label>')", collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean; filter?: string[] }) => (await actions()).prune(io, opts));
  return volume;
}
