/**
 * `nodes`, `nodes:drain`, `nodes:activate`. Definitions only; the work is loaded on use from
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
  return [nodes, nodesDrain, nodesActivate];
}
