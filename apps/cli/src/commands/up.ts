import { Command } from 'commander';
import type { CliIo } from '../io';
import type { UpOptions } from '../up/run';

/** What `up` and `down` do once parsed; loaded on use, so other commands do not pay for the supervisor's modules. */
export interface UpActions {
  up(io: CliIo, options: UpOptions): Promise<void>;
  down(io: CliIo): Promise<void>;
}

const loaded: UpActions = {
  up: async (io, options) => (await import('../up/run')).runUp(io, options),
  down: async (io) => (await import('../up/down')).runDown(io),
};

export function upCommand(io: CliIo, actions: UpActions = loaded): Command {
  return new Command('up')
    .description('Start the platform in the foreground; Ctrl-C stops it and its apps')
    .option('--keep-apps', 'Leave the app instances running when stopped (the next `paas up` adopts them)')
    .action(async (opts: { keepApps?: boolean }) => actions.up(io, { keepApps: opts.keepApps === true }));
}

export function downCommand(io: CliIo, actions: UpActions = loaded): Command {
  return new Command('down')
    .description('Stop and remove the app instances a stopped `paas up` left running, and the bridge')
    .action(async () => actions.down(io));
}
