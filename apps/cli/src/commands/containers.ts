/**
 * Container verbs: run, create, start, stop, restart, kill, rm, ps, logs, wait, port, and
 * `network prune`. Definitions only; the work is loaded on use from ../containers/actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';
import type { RunFlags } from '../containers/options';

const actions = () => import('../containers/actions');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Flags shared by `run` and `create`, as Docker spells them. */
function withRunFlags(command: Command): Command {
  return command
    .argument('<IMAGE>')
    .argument('[COMMAND...]')
    .passThroughOptions()
    .helpOption('--help', 'Print usage') // -h is --hostname, as in docker run
    .option('--name <NAME>', 'Assign a name to the container')
    .option('-e, --env <KEY=VALUE>', 'Set environment variables', collect)
    .option('--env-file <FILE>', 'Read in a file of environment variables', collect)
    .option('-v, --volume <SRC:DST[:ro]>', 'Bind mount a host path or mount a named volume', collect)
    .option('--mount <type=volume|bind,src=...,dst=...>', 'Attach a volume or bind mount to the container', collect)
    .option('-w, --workdir <DIR>', 'Working directory inside the container')
    .option('-u, --user <USER[:GROUP]>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('--entrypoint <CMD>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-m, --memory <BYTES>', 'Memory limit')
    .option('--memory-swap <BYTES>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--cpus <NUMBER>', 'Number of CPUs')
    .option('-c, --cpu-shares <INT>', 'CPU shares (relative weight)')
    .option('--cpu-quota <INT>', 'Limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpu-period <INT>', 'Limit CPU CFS (Completely Fair Scheduler) period')
    .option('--pids-limit <N>', 'Tune container pids limit')
    .option('--restart <POLICY>', 'Restart policy to apply when a container exits', 'no')
    .option('-h, --hostname <NAME>', 'Container host name')
    .option('--network <MODE>', 'Connect a container to a network: bridge, none or host', 'bridge')
    .option('-p, --publish <[IP:]HOST:CTR[/PROTO]>', "Publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('-l, --label <KEY=VALUE>', 'Set meta data on a container', collect)
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('--stop-timeout <SECONDS>', 'Timeout (in seconds) to stop a container')
    .option('--stop-signal <SIGNAL>', 'Signal to stop the container')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--cap-add <CAP>', 'Add Linux capabilities', collect)
    .option('--cap-drop <CAP>', 'Drop Linux capabilities', collect)
    .option('--privileged', 'Give extended privileges to this container')
    .option(
      '--userns <MODE>',
      'User namespace: host (ids as on the host) or auto (root inside is an unprivileged host id)',
    )
    .option('--pull <POLICY>', 'Pull image before running ("always", "missing", "never")', 'missing');
}

export function containerCommands(io: CliIo): Command[] {
  const run = withRunFlags(new Command('run').description('Create and run a new container from an image'))
    .option('-d, --detach', 'Run container in background and print container ID')
    .option('--rm', 'Automatically remove the container when it exits')
    .action(async (image: string, cmd: string[], flags: RunFlags) => (await actions()).run(io, image, cmd, flags));
  const create = withRunFlags(new Command('create').description('Create a new container')).action(
    async (image: string, cmd: string[], flags: RunFlags) => (await actions()).create(io, image, cmd, flags),
  );
  const start = new Command('start')
    .description('Start one or more stopped containers')
    .argument('<CONTAINER...>')
    .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (refs: string[], opts: { attach?: boolean; interactive?: boolean }) =>
      (await actions()).start(io, refs, opts),
    );
  const attach = new Command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<CONTAINER>')
    .option('--no-stdin', 'Do not attach STDIN')
    .action(async (ref: string, opts: { stdin: boolean }) => (await actions()).attach(io, ref, opts));
  const stop = new Command('stop')
    .description('Stop one or more running containers')
    .argument('<CONTAINER...>')
    .option('-t, --time <SECONDS>', 'Seconds to wait before killing the container')
    .action(async (refs: string[], opts: { time?: string }) => (await actions()).stop(io, refs, opts));
  const restart = new Command('restart')
    .description('Restart one or more containers')
    .argument('<CONTAINER...>')
    .option('-t, --time <SECONDS>', 'Seconds to wait before killing the container')
    .action(async (refs: string[], opts: { time?: string }) => (await actions()).restart(io, refs, opts));
  const kill = new Command('kill')
    .description('Kill one or more running containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <SIGNAL>', 'Signal to send to the container', 'KILL')
    .action(async (refs: string[], opts: { signal?: string }) => (await actions()).kill(io, refs, opts));
  const rm = new Command('rm')
    .description('Remove one or more containers')
    .argument('<CONTAINER...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action(async (refs: string[], opts: { force?: boolean; volumes?: boolean }) =>
      (await actions()).rm(io, refs, opts),
    );
  const ps = new Command('ps')
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('-f, --filter <FILTER>', 'Filter output based on conditions provided', collect)
    .action(async (opts: { all?: boolean; quiet?: boolean; trunc: boolean; filter?: string[] }) =>
      (await actions()).ps(io, { ...opts, noTrunc: !opts.trunc }),
    );
  const logs = new Command('logs')
    .description('Fetch the logs of a container')
    .argument('<CONTAINER>')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <N>', 'Number of lines to show from the end of the logs', 'all')
    .option('--since <TIME>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z)')
    .option('-t, --timestamps', 'Show timestamps')
    .action(async (ref: string, opts: { follow?: boolean; tail?: string; since?: string; timestamps?: boolean }) =>
      (await actions()).logs(io, ref, opts),
    );
  const wait = new Command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<CONTAINER...>')
    .action(async (refs: string[]) => (await actions()).wait(io, refs));
  const exec = new Command('exec')
    .description('Execute a command in a running container')
    .argument('<CONTAINER>')
    .argument('<COMMAND...>')
    .passThroughOptions()
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY (not supported yet)')
    .option('-e, --env <KEY=VALUE>', 'Set environment variables', collect)
    .option('-u, --user <USER[:GROUP]>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-w, --workdir <DIR>', 'Working directory inside the container')
    .action(
      async (
        ref: string,
        cmd: string[],
        opts: { interactive?: boolean; tty?: boolean; env?: string[]; user?: string; workdir?: string },
      ) => (await actions()).exec(io, ref, cmd, opts),
    );
  const port = new Command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<CONTAINER>')
    .argument('[PRIVATE_PORT[/PROTO]]')
    .action(async (ref: string, privatePort?: string) => (await actions()).port(io, ref, privatePort));
  const network = new Command('network').description('Manage the container bridge');
  network
    .command('prune')
    .description('Release what stopped or vanished containers hold; remove the bridge when unused')
    .option('-f, --force', 'Do not prompt for confirmation (there is no prompt)')
    .action(async () => (await actions()).networkPrune(io));
  const top = new Command('top')
    .description('Display the running processes of a container')
    .argument('<CONTAINER>')
    .argument('[PS_OPTIONS...]')
    .passThroughOptions()
    .action(async (ref: string, psArgs: string[]) => (await actions()).top(io, ref, psArgs));
  const stats = new Command('stats')
    .description('Display resource usage of containers (one sample with --no-stream)')
    .argument('[CONTAINER...]')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Don't truncate output")
    .action(async (refs: string[], opts: { stream: boolean; trunc: boolean }) =>
      (await actions()).stats(io, refs, { stream: opts.stream, noTrunc: !opts.trunc }),
    );
  const rename = new Command('rename')
    .description('Rename a container')
    .argument('<CONTAINER>')
    .argument('<NEW_NAME>')
    .action(async (ref: string, name: string) => (await actions()).rename(io, ref, name));
  const container = new Command('container').description('Manage containers');
  container.addCommand(
    new Command('prune')
      .description('Remove all stopped containers')
      .option('-f, --force', 'Do not prompt for confirmation')
      .action(async (opts: { force?: boolean }) => (await actions()).prune(io, opts)),
  );
  return [
    run,
    create,
    start,
    attach,
    stop,
    restart,
    kill,
    rm,
    ps,
    logs,
    exec,
    wait,
    top,
    stats,
    rename,
    container,
    port,
    network,
  ];
}
