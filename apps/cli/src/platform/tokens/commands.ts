/**
 * `tokens`, `tokens:create`, `tokens:revoke`. Definitions only; the work is loaded on use from
 * ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withJson } from '../define';

const actions = () => import('./actions');

export function tokensCommands(io: CliIo): Command[] {
  const tokens = withJson(command('tokens', 'List API tokens (admin)')).action(
    act(io, actions, (a, flags: { json?: boolean }) => a.tokens(io, flags)),
  );
  const tokensCreate = withJson(command('tokens:create', 'Create an API token; it is printed once (admin)'))
    .argument('<NAME>')
    .option('--apps <APP,...>', 'Limit the token to these apps (default: every app)')
    .option('--admin', 'The token may manage tokens and nodes')
    .option('--node', "A node's token for its agent (PAAS_API_TOKEN): it may register and heartbeat, nothing else")
    .action(
      act(io, actions, (a, name: string, flags: { json?: boolean; apps?: string; admin?: boolean; node?: boolean }) =>
        a.tokensCreate(io, name, flags),
      ),
    );
  const tokensRevoke = command('tokens:revoke', 'Revoke an API token (admin)')
    .argument('<ID>')
    .action(act(io, actions, (a, id: string) => a.tokensRevoke(io, id)));
  return [tokens, tokensCreate, tokensRevoke];
}
