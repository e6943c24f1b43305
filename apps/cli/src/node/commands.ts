/**
 * `paas node join` and `paas node up`: what runs on a machine that joins the platform.
 * Definitions only; the work is loaded on use from ./join.ts and ./up.ts.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';

export function nodeCommand(io: CliIo): Command {
  const node = new Command('node').description('This machine as a node of a platform: join it, start its agent');
  node
    .command('join')
    .description(
      'Join this machine to the platform at URL and run its agent (the command `paas nodes:join-token` prints)',
    )
    .argument('<URL>', "the control plane's api, https://HOST:PORT")
    .requiredOption('--token <TOKEN>', 'the join token')
    .requiredOption('--ca-hash <sha256:HEX>', "the platform CA's hash: the CA is trusted only if it matches")
    .option('--name <NAME>', 'the node name (default: the host name)')
    .option(
      '--address <IP>',
      "this machine's IPv4 address as the router reaches it (default: the instances' bridge addresses)",
    )
    .option('--force', 'join again although this machine joined before')
    .option('--keep-apps', 'leave the app instances running when stopped')
    .action(
      async (
        url: string,
        opts: { token: string; caHash: string; name?: string; address?: string; force?: boolean; keepApps?: boolean },
      ) => (await import('./join')).runNodeJoin(io, url, { ...opts, keepApps: opts.keepApps === true }),
    );
  node
    .command('up')
    .description('Run the agent of this machine again, from what `paas node join` saved')
    .option('--keep-apps', 'leave the app instances running when stopped')
    .action(async (opts: { keepApps?: boolean }) =>
      (await import('./up')).runNodeUp(io, { keepApps: opts.keepApps === true }),
    );
  return node;
}
