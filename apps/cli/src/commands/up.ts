import { Command } from 'commander';
import type { CliIo } from '../io';

export function upCommand(io: CliIo): Command {
  return new Command('up')
    .description('Start the platform in the foreground: registry and api (later agent and router)')
    .action(async () => {
      // Loaded on use, so that other commands do not pay for the supervisor's modules.
      const { runUp } = await import('../up/run');
      await runUp(io);
    });
}
