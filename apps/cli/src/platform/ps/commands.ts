/**
 * `ps:scale`, `ps:resize`, `ps:restart`, `ps:stop`, and the platform's `ps -a APP` (a verb the
 * engine has too: ../route.ts decides which one a command line means). Definitions only; the
 * work is loaded on use from ./actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };
type AutoscaleFlags = { min: string; max: string; concurrency: string; idle: string };

export function psScaleCommand(io: CliIo): Command {
  return withJson(
    withApp(command('ps:scale', 'Scale process types (web=3 worker=+1 web=2:standard-2x web=2:512M), or show')),
  )
    .argument('[TYPE=QUANTITY[:SIZE]...]')
    .option('--no-wait', 'Do not wait for the instances to start or to wait for room')
    .action(act(io, actions, (a, args: string[], flags: Flags & { wait?: boolean }) => a.psScale(io, args, flags)));
}

export function psResizeCommand(io: CliIo): Command {
  return withJson(withApp(command('ps:resize', 'Change the size of process types (web=standard-2x worker=512M)')))
    .argument('<TYPE=SIZE...>')
    .option('--no-wait', 'Do not wait for the rolling restart')
    .action(act(io, actions, (a, args: string[], flags: Flags & { wait?: boolean }) => a.psResize(io, args, flags)));
}

export function psRestartCommand(io: CliIo): Command {
  return withJson(withApp(command('ps:restart', 'Restart all processes, a type (web) or one (web.2), rolling')))
    .argument('[TYPE|TYPE.N]')
    .action(act(io, actions, (a, target: string | undefined, flags: Flags) => a.psRestart(io, target, flags)));
}

export function psStopCommand(io: CliIo): Command {
  return withJson(withApp(command('ps:stop', 'Stop one process (web.2); its formation starts a new one')))
    .argument('<TYPE.N>')
    .action(act(io, actions, (a, name: string, flags: Flags) => a.psStop(io, name, flags)));
}

export function psAutoscaleEnableCommand(io: CliIo): Command {
  return withJson(
    withApp(
      command(
        'ps:autoscale:enable',
        'Scale a process type by its traffic between --min and --max; with --min 0 it sleeps when idle and the next request wakes it',
      ),
    ),
  )
    .argument('<TYPE>')
    .requiredOption('--min <N>', 'Fewest instances (0: sleep when idle)')
    .requiredOption('--max <N>', 'Most instances')
    .option('--concurrency <N>', 'Requests in flight per instance', '20')
    .option('--idle <DURATION>', 'Quiet period before scaling down (30s, 15m, 1h)', '15m')
    .option(
      '--hard-limit <N>',
      'Most requests in flight per instance (per router worker), at least --concurrency; beyond, requests queue at the router, then answer 503',
    )
    .action(act(io, actions, (a, type: string, flags: Flags & AutoscaleFlags) => a.psAutoscaleEnable(io, type, flags)));
}

export function psAutoscaleDisableCommand(io: CliIo): Command {
  return withJson(withApp(command('ps:autoscale:disable', 'Stop autoscaling a process type (it keeps its count)')))
    .argument('<TYPE>')
    .action(act(io, actions, (a, type: string, flags: Flags) => a.psAutoscaleDisable(io, type, flags)));
}

export function psCommand(io: CliIo): Command {
  return withJson(withApp(new Command('ps').description("List an app's processes (instances)")))
    .argument('[TYPE...]', 'Only these process types')
    .action(
      act(io, actions, (a, types: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
        a.ps(io, types, flags),
      ),
    );
}
