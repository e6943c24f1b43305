/**
 * `whoami`, `git:credentials`, and the platform's `login` and `logout` (verbs the registry has
 * too: ../route.ts decides which one a command line means). Definitions only; the work is
 * loaded on use from ./actions.
 */
import { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withJson } from '../define';

const actions = () => import('./actions');

export function whoamiCommand(io: CliIo): Command {
  return withJson(command('whoami', 'Show which API and token the platform verbs use')).action(
    act(io, actions, (a, flags: { json?: boolean }) => a.whoami(io, flags)),
  );
}

export function gitCredentialsCommand(io: CliIo): Command {
  return command('git:credentials', "git's credential helper: the API token for `git push paas`")
    .argument('<OPERATION>', 'get, store or erase (git says which)')
    .action(act(io, actions, (a, operation: string) => a.gitCredentials(io, operation)));
}

export function loginCommand(io: CliIo): Command {
  return new Command('login')
    .description('Log in to the platform API: the token (--token, or read from stdin) is checked, then stored')
    .option('--api <URL>', 'The API (default: $PAAS_API_URL, the stored login, or http://$PAAS_API_ADDR)')
    .option('--token <TOKEN>', 'The API token (default: read from stdin)')
    .action(act(io, actions, (a, flags: { api?: string; token?: string }) => a.login(io, flags)));
}

export function logoutCommand(io: CliIo): Command {
  return new Command('logout')
    .description('Forget the stored platform login')
    .action(act(io, actions, (a) => a.logout(io)));
}
