/**
 * `build`: a Dockerfile into an image, as `docker build` does with the classic builder; and
 * `builder prune`, its cache removed. Definitions only; the work is loaded on use from
 * ../build/actions.
 */
import { Command } from 'commander';
import type { BuildFlags } from '../build/actions';
import type { CliIo } from '../io';

const actions = () => import('../build/actions');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function buildCommand(io: CliIo): Command {
  return new Command('build')
    .description('Build an image from a Dockerfile')
    .argument('<PATH>', 'The build context: a directory')
    .option('-t, --tag <NAME[:TAG]>', 'Name and optionally a tag in the name:tag format (repeatable)', collect)
    .option('-f, --file <PATH>', "Name of the Dockerfile (default: 'PATH/Dockerfile')")
    .option('--build-arg <KEY[=VALUE]>', 'Set build-time variables (KEY alone takes it from the environment)', collect)
    .option('--target <STAGE>', 'Set the target build stage to build')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--label <KEY=VALUE>', 'Set metadata for an image (repeatable)', collect)
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('--network <MODE>', 'Set the networking mode for the RUN instructions during build: default or none')
    .option(
      '--userns <MODE>',
      'User namespace of the RUN instructions: host (default, as Docker) or auto (a range of PAAS_USERNS_POOL for the build; the layers keep the container ids)',
    )
    .option(
      '--pull [POLICY]',
      'Pull base images: "always" (--pull alone, as Docker), "missing" (default) or "never"; write --pull=POLICY before PATH',
    )
    .action(async (context: string, flags: BuildFlags) => (await actions()).build(io, context, flags));
}

export function builderCommand(io: CliIo): Command {
  const group = new Command('builder').description('Manage builds');
  group.addCommand(
    new Command('prune')
      .description('Remove build cache')
      .option('-a, --all', 'Remove all build cache: every step cache entry and the images only it holds')
      .option('-f, --force', 'Do not prompt for confirmation')
      .addHelpText(
        'after',
        `
Without -a: the RUN --mount=type=cache directories no running build uses, and step cache
entries whose image is gone. With -a also every step cache entry, so the next build runs every
step again, and the untagged images only the cache held.`,
      )
      .action(async (opts: { all?: boolean; force?: boolean }) => (await actions()).builderPrune(io, opts)),
  );
  return group;
}
