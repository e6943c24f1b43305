/**
 * Image verbs: `images`, `rmi`, `tag`, `history`, `inspect`, and the `image` group with its
 * Docker aliases (`image ls|rm|tag|history|inspect|prune|import`) plus `image bootstrap`.
 * Definitions only; the work is loaded on use from ../images/actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';

const actions = () => import('../images/actions');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function listCommand(io: CliIo, name: string): Command {
  return new Command(name)
    .description('List images')
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('-q, --quiet', 'Only show image IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('--digests', 'Show digests')
    .action(
      async (filter: string | undefined, opts: { all?: boolean; quiet?: boolean; trunc: boolean; digests?: boolean }) =>
        (await actions()).images(io, filter, { ...opts, noTrunc: !opts.trunc }),
    );
}

function rmCommand(io: CliIo, name: string): Command {
  return new Command(name)
    .description('Remove one or more images')
    .argument('<IMAGE...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .action(async (refs: string[], opts: { force?: boolean; prune?: boolean }) =>
      (await actions()).rmi(io, refs, opts),
    );
}

function tagCommand(io: CliIo): Command {
  return new Command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<SOURCE_IMAGE[:TAG]>')
    .argument('<TARGET_IMAGE[:TAG]>')
    .action(async (source: string, target: string) => (await actions()).tag(io, source, target));
}

function historyCommand(io: CliIo): Command {
  return new Command('history')
    .description('Show the history of an image')
    .argument('<IMAGE>')
    .option('-H, --human', 'Print sizes and dates in human readable format (default true)', true)
    .option('--no-human', 'Print sizes in bytes and dates as timestamps')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (ref: string, opts: { human: boolean; trunc: boolean; quiet?: boolean }) =>
      (await actions()).history(io, ref, { human: opts.human, noTrunc: !opts.trunc, quiet: opts.quiet ?? false }),
    );
}

function inspectCommand(io: CliIo): Command {
  return new Command('inspect')
    .description('Return low-level information on containers, images and volumes')
    .argument('<NAME|ID...>')
    .option('-f, --format <TEMPLATE>', 'Format the output using a Go template subset ({{.Field}}, {{json .Field}})')
    .option('--type <TYPE>', 'Only inspect objects of the given type (container, image or volume)')
    .action(async (refs: string[], opts: { format?: string; type?: string }) =>
      (await actions()).inspect(io, refs, opts),
    );
}

function pruneCommand(io: CliIo): Command {
  return new Command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean }) => (await actions()).prune(io, opts));
}

export function imageCommands(io: CliIo): Command[] {
  const group = new Command('image').description('Manage images');
  group.addCommand(listCommand(io, 'ls').alias('list'));
  group.addCommand(rmCommand(io, 'rm').alias('remove'));
  group.addCommand(tagCommand(io));
  group.addCommand(historyCommand(io));
  group.addCommand(inspectCommand(io));
  group.addCommand(pruneCommand(io));
  group.addCommand(
    new Command('bootstrap')
      .description(
        'Make base images from the host: busybox, node (node:20), python (python:3), postgres (postgres:15), redis (redis:7), debian (slow)',
      )
      .argument('[IMAGE...]', 'busybox, node, python, postgres, redis or debian (default: busybox node)', [])
      .action(async (names: string[]) => (await actions()).bootstrap(io, names)),
  );
  group.addCommand(
    new Command('import')
      .description('Import a root filesystem (directory or tarball) as a one-layer image')
      .argument('<DIR|TARBALL>')
      .argument('[REPOSITORY[:TAG]]')
      .option('-c, --change <INSTRUCTION>', 'Apply a Dockerfile instruction to the image config', collect)
      .option('-m, --message <MESSAGE>', 'Commit message for the imported image')
      .action(async (source: string, ref: string | undefined, opts: { change?: string[]; message?: string }) =>
        (await actions()).importImage(io, source, ref, opts),
      ),
  );
  const save = (): Command =>
    new Command('save')
      .description('Save one or more images to a tar archive (docker-archive and OCI layout at once)')
      .argument('<IMAGE...>')
      .option('-o, --output <FILE>', 'Write to a file, instead of STDOUT')
      .action(async (refs: string[], opts: { output?: string }) => (await actions()).save(io, refs, opts));
  const load = (): Command =>
    new Command('load')
      .description('Load images from a tar archive (docker-archive or OCI layout, plain or gzipped)')
      .option('-i, --input <FILE>', 'Read from tar archive file, instead of STDIN')
      .option('-q, --quiet', 'Suppress the load output')
      .action(async (opts: { input?: string; quiet?: boolean }) => (await actions()).load(io, opts));
  group.addCommand(
    new Command('mount')
      .description("Mount an image's filesystem read-only and print the mount point")
      .argument('<IMAGE>')
      .action(async (ref: string) => (await actions()).mountImage(io, ref)),
  );
  group.addCommand(
    new Command('unmount')
      .alias('umount')
      .description('Unmount an image mounted with `image mount`')
      .argument('<IMAGE>')
      .action(async (ref: string) => (await actions()).unmountImage(io, ref)),
  );
  group.addCommand(save());
  group.addCommand(load());
  return [
    save(),
    load(),
    listCommand(io, 'images'),
    rmCommand(io, 'rmi'),
    tagCommand(io),
    historyCommand(io),
    inspectCommand(io),
    group,
  ];
}
