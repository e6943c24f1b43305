/**
 * Platform verbs, Heroku/Dokku style (`apps:create`, `config:set`, `ps:scale web=3`...), over
 * the control plane's REST API. Each noun's definitions live in ./<noun>/commands.ts and its
 * work in ./<noun>/actions.ts, loaded on use; this module assembles them in help order.
 *
 * `ps`, `run`, `logs`, `login` and `logout` are also engine verbs: ./route.ts decides which one
 * a command line means, and `sharedCommand` gives the platform's definition of each.
 */
import type { Command } from 'commander';
import type { CliIo } from '../io';
import { addonsCommands } from './addons/commands';
import { appsCommands } from './apps/commands';
import { gitCredentialsCommand, loginCommand, logoutCommand, whoamiCommand } from './auth/commands';
import { buildsCommands } from './builds/commands';
import { certsCommands } from './certs/commands';
import { configCommands } from './config/commands';
import { domainsCommands } from './domains/commands';
import { drainsCommands } from './drains/commands';
import { httpsCommands } from './https/commands';
import { logsCommand } from './logs/commands';
import { maintenanceCommands } from './maintenance/commands';
import { nodesCommands } from './nodes/commands';
import { pgCommands } from './pg/commands';
import {
  psAutoscaleDisableCommand,
  psAutoscaleEnableCommand,
  psCommand,
  psResizeCommand,
  psRestartCommand,
  psScaleCommand,
  psStopCommand,
} from './ps/commands';
import { releasesCommands } from './releases/commands';
import { reviewsCommands } from './reviews/commands';
import type { SharedVerb } from './route';
import { runCommand } from './run/commands';
import { tokensCommands } from './tokens/commands';

export function platformCommands(io: CliIo): Command[] {
  return [
    ...appsCommands(io),
    ...configCommands(io),
    psScaleCommand(io),
    psResizeCommand(io),
    psRestartCommand(io),
    psStopCommand(io),
    psAutoscaleEnableCommand(io),
    psAutoscaleDisableCommand(io),
    ...releasesCommands(io),
    ...reviewsCommands(io),
    ...domainsCommands(io),
    ...drainsCommands(io),
    ...certsCommands(io),
    ...httpsCommands(io),
    ...maintenanceCommands(io),
    ...addonsCommands(io),
    ...pgCommands(io),
    ...buildsCommands(io),
    ...nodesCommands(io),
    whoamiCommand(io),
    gitCredentialsCommand(io),
    ...tokensCommands(io),
  ];
}

/** The platform's definition of a verb the engine has too (see ./route.ts). */
export function sharedCommand(io: CliIo, verb: SharedVerb): Command {
  switch (verb) {
    case 'ps':
      return psCommand(io);
    case 'run':
      return runCommand(io);
    case 'logs':
      return logsCommand(io);
    case 'login':
      return loginCommand(io);
    case 'logout':
      return logoutCommand(io);
  }
}

/** What `paas help ps` (and the others) adds about the platform variant of an engine verb. */
export const SHARED_HELP: Record<SharedVerb, string> = {
  ps: "\nOn the platform: paas ps -a APP [TYPE...] lists an app's processes (see 'paas ps --app APP --help').\n",
  run: "\nOn the platform: paas run -a APP COMMAND... runs a one-off command (see 'paas run --app APP --help').\n",
  logs: "\nOn the platform: paas logs -a APP [-f] [-n N] shows an app's logs (see 'paas logs --app APP --help').\n",
  login: "\nOn the platform: paas login --api URL [--token TOKEN] (see 'paas login --api URL --help').\n",
  logout: '\nOn the platform: paas logout (no SERVER) forgets the platform login.\n',
};
