/**
 * `nodes`, `nodes:drain`, `nodes:activate`, `nodes:join-token`, `nodes:remove`. Definitions only; the work is loaded on use from
 * ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withJson } from '../define';

const actions = () => import('./actions');

export function nodesCommands(io: CliIo): Command[] {
  const nodes = withJson(command('nodes', 'List the nodes instances run on')).action(
    act(io, actions, (a, flags: { json?: boolean }) => a.nodes(io, flags)),
  );
  const nodesDrain = withJson(
    command('nodes:drain', 'Move the instances off a node and place nothing new on it (admin)'),
  )
    .argument('<NODE>')
    .action(act(io, actions, (a, name: string, flags: { json?: boolean }) => a.nodesState(io, name, 'drain', flags)));
  const nodesActivate = withJson(command('nodes:activate', 'Let a drained node take instances again (admin)'))
    .argument('<NODE>')
    .action(
      act(io, actions, (a, name: string, flags: { json?: boolean }) => a.nodesState(io, name, 'activate', flags)),
    );
  const nodesJoinToken = withJson(
    command('nodes:join-token', 'Make a single-use token and print the command that joins a new machine (admin)'),
  )
    .option('--ttl <DURATION>', 'How long the token lives: 30m, 1h (default), up to 24h')
    .option('--api-url <URL>', 'The api as the new machine reaches it (default: the URL this CLI uses)')
    .action(
      act(io, actions, (a, flags: { json?: boolean; ttl?: string; apiUrl?: string }) => a.nodesJoinToken(io, flags)),
    );
  const nodesRemove = withJson(command('nodes:remove', 'Remove a node and revoke its credentials (admin)'))
    .argument('<NODE>')
    .option('--confirm <NODE>', 'The node name again, to confirm without a prompt')
    .option('--force', 'Remove it even with instances on it: they are placed elsewhere')
    .action(
      act(io, actions, (a, name: string, flags: { json?: boolean; confirm?: string; force?: boolean }) =>
        a.nodesRemove(io, name, flags),
      ),
    );
  return [nodes, nodesDrain, nodesActivate, nodesJoinToken, nodesRemove];
}
