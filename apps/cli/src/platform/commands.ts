/**
 * Platform verbs, Heroku/Dokku style (`apps:create`, `config:set`, `ps:scale web=3`...), over
 * the control plane's REST API. Definitions only; the work is loaded on use from ./actions.
 *
 * `ps`, `run`, `logs`, `login` and `logout` are also engine verbs: ./route.ts decides which one
 * a command line means, and `sharedCommand` gives the platform's definition of each.
 */
import { Command } from 'commander';
import type { CliIo } from '../io';
import type { SharedVerb } from './route';

type Actions = typeof import('./actions');
const load = (): Promise<Actions> => import('./actions');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const PLATFORM_GROUP = 'Platform Commands (heroku-like):';

/** Runs an action, turning platform failures into `paas: <message>` and an exit code. */
function act<A extends unknown[]>(
  io: CliIo,
  fn: (actions: Actions, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const actions = await load();
    try {
      await fn(actions, ...args);
    } catch (err) {
      await actions.fail(io, err);
    }
  };
}

function command(name: string, description: string): Command {
  return new Command(name).description(description).helpGroup(PLATFORM_GROUP);
}

/** `-a/--app` and `-r/--remote`: which app a command is about. */
function withApp(cmd: Command): Command {
  return cmd
    .option('-a, --app <APP>', 'The app (default: $PAAS_APP, or the app of the "paas" git remote)')
    .option('-r, --remote <REMOTE>', 'The git remote that names the app (default: paas)');
}

const withJson = (cmd: Command): Command => cmd.option('--json', 'Print JSON');

export function platformCommands(io: CliIo): Command[] {
  const apps = withJson(command('apps', 'List your apps')).action(
    act(io, (a, flags: { json?: boolean }) => a.apps(io, flags)),
  );
  const appsCreate = withJson(command('apps:create', 'Create an app and add its git remote to the current repo'))
    .argument('<NAME>', 'The app name: a DNS label such as my-app')
    .option('-r, --remote <REMOTE>', 'The name of the git remote to add', 'paas')
    .option('--no-git-remote', 'Do not add a git remote')
    .action(
      act(io, (a, name: string, flags: { json?: boolean; remote?: string; gitRemote: boolean }) =>
        a.appsCreate(io, name, flags),
      ),
    );
  const appsDestroy = withApp(command('apps:destroy', 'Permanently destroy an app'))
    .option('--confirm <APP>', 'The app name again, to confirm')
    .action(act(io, (a, flags: { app?: string; remote?: string; confirm?: string }) => a.appsDestroy(io, flags)));
  const appsInfo = withJson(withApp(command('apps:info', 'Show the details of an app'))).action(
    act(io, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.appsInfo(io, flags)),
  );
  const appsRename = withJson(withApp(command('apps:rename', 'Rename an app (and update its git remote)')))
    .argument('<NEWNAME>')
    .action(
      act(io, (a, name: string, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.appsRename(io, name, flags),
      ),
    );

  const config = withJson(withApp(command('config', "Show an app's config vars")))
    .option('-s, --shell', 'Print as KEY=value lines for a shell')
    .action(
      act(io, (a, flags: { app?: string; remote?: string; json?: boolean; shell?: boolean }) => a.config(io, flags)),
    );
  const configGet = withApp(command('config:get', 'Print the value of one config var'))
    .argument('<KEY>')
    .option('-s, --shell', 'Print as KEY=value')
    .action(
      act(io, (a, key: string, flags: { app?: string; remote?: string; shell?: boolean }) =>
        a.configGet(io, key, flags),
      ),
    );
  const configSet = withJson(withApp(command('config:set', 'Set config vars (makes a new release)')))
    .argument('<KEY=VALUE...>')
    .action(
      act(io, (a, args: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
        a.configSet(io, args, flags),
      ),
    );
  const configUnset = withApp(command('config:unset', 'Unset config vars (makes a new release)'))
    .argument('<KEY...>')
    .action(act(io, (a, keys: string[], flags: { app?: string; remote?: string }) => a.configUnset(io, keys, flags)));

  const psScale = withJson(withApp(command('ps:scale', 'Scale process types (web=3 worker=+1 web=2:512M), or show')))
    .argument('[TYPE=QUANTITY...]')
    .action(
      act(io, (a, args: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
        a.psScale(io, args, flags),
      ),
    );

  const releases = withJson(withApp(command('releases', "List an app's releases")))
    .option('-n, --num <N>', 'How many releases to show', '15')
    .action(
      act(io, (a, flags: { app?: string; remote?: string; json?: boolean; num: string }) => a.releases(io, flags)),
    );
  const releasesInfo = withJson(withApp(command('releases:info', 'Show a release (the current one by default)')))
    .argument('[vN]')
    .option('-s, --shell', "Print the release's config vars as KEY=value lines")
    .action(
      act(
        io,
        (a, version: string | undefined, flags: { app?: string; remote?: string; json?: boolean; shell?: boolean }) =>
          a.releasesInfo(io, version, flags),
      ),
    );
  const rollback = withJson(withApp(command('rollback', 'Roll back to a release (the previous one by default)')))
    .argument('[vN]')
    .action(
      act(io, (a, version: string | undefined, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.rollback(io, version, flags),
      ),
    );

  const domains = withJson(withApp(command('domains', "List an app's domains"))).action(
    act(io, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.domains(io, flags)),
  );
  const domainsAdd = withJson(withApp(command('domains:add', 'Add a custom domain to an app')))
    .argument('<HOSTNAME>')
    .action(
      act(io, (a, host: string, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.domainsAdd(io, host, flags),
      ),
    );
  const domainsRemove = withApp(command('domains:remove', 'Remove a custom domain from an app'))
    .argument('<HOSTNAME>')
    .action(act(io, (a, host: string, flags: { app?: string; remote?: string }) => a.domainsRemove(io, host, flags)));

  const builds = withJson(withApp(command('builds', "List an app's builds")))
    .option('-n, --num <N>', 'How many builds to show', '15')
    .action(act(io, (a, flags: { app?: string; remote?: string; json?: boolean; num: string }) => a.builds(io, flags)));
  const buildsInfo = withJson(withApp(command('builds:info', 'Show a build (#N or id; the newest by default)')))
    .argument('[BUILD]')
    .action(
      act(io, (a, ref: string | undefined, flags: { app?: string; remote?: string; json?: boolean }) =>
        a.buildsInfo(io, ref, flags),
      ),
    );
  const buildsOutput = withApp(command('builds:output', "Stream a build's output (#N or id; the newest by default)"))
    .argument('[BUILD]')
    .action(
      act(io, (a, ref: string | undefined, flags: { app?: string; remote?: string }) => a.buildsOutput(io, ref, flags)),
    );

  const nodes = withJson(command('nodes', 'List the nodes instances run on')).action(
    act(io, (a, flags: { json?: boolean }) => a.nodes(io, flags)),
  );
  const nodesDrain = withJson(
    command('nodes:drain', 'Move the instances off a node and place nothing new on it (admin)'),
  )
    .argument('<NODE>')
    .action(act(io, (a, name: string, flags: { json?: boolean }) => a.nodesState(io, name, 'drain', flags)));
  const nodesActivate = withJson(command('nodes:activate', 'Let a drained node take instances again (admin)'))
    .argument('<NODE>')
    .action(act(io, (a, name: string, flags: { json?: boolean }) => a.nodesState(io, name, 'activate', flags)));

  const whoami = withJson(command('whoami', 'Show which API and token the platform verbs use')).action(
    act(io, (a, flags: { json?: boolean }) => a.whoami(io, flags)),
  );

  const gitCredentials = command('git:credentials', "git's credential helper: the API token for `git push paas`")
    .argument('<OPERATION>', 'get, store or erase (git says which)')
    .action(act(io, (a, operation: string) => a.gitCredentials(io, operation)));

  const tokens = withJson(command('tokens', 'List API tokens (admin)')).action(
    act(io, (a, flags: { json?: boolean }) => a.tokens(io, flags)),
  );
  const tokensCreate = withJson(command('tokens:create', 'Create an API token; it is printed once (admin)'))
    .argument('<NAME>')
    .option('--apps <APP,...>', 'Limit the token to these apps (default: every app)')
    .option('--admin', 'The token may manage tokens and nodes')
    .option('--node', "A node's token for its agent (PAAS_API_TOKEN): it may register and heartbeat, nothing else")
    .action(
      act(io, (a, name: string, flags: { json?: boolean; apps?: string; admin?: boolean; node?: boolean }) =>
        a.tokensCreate(io, name, flags),
      ),
    );
  const tokensRevoke = command('tokens:revoke', 'Revoke an API token (admin)')
    .argument('<ID>')
    .action(act(io, (a, id: string) => a.tokensRevoke(io, id)));

  return [
    apps,
    appsCreate,
    appsDestroy,
    appsInfo,
    appsRename,
    config,
    configGet,
    configSet,
    configUnset,
    psScale,
    releases,
    releasesInfo,
    rollback,
    domains,
    domainsAdd,
    domainsRemove,
    builds,
    buildsInfo,
    buildsOutput,
    nodes,
    nodesDrain,
    nodesActivate,
    whoami,
    gitCredentials,
    tokens,
    tokensCreate,
    tokensRevoke,
  ];
}

function loginCommand(io: CliIo): Command {
  return new Command('login')
    .description('Log in to the platform API: the token (--token, or read from stdin) is checked, then stored')
    .option('--api <URL>', 'The API (default: $PAAS_API_URL, the stored login, or http://$PAAS_API_ADDR)')
    .option('--token <TOKEN>', 'The API token (default: read from stdin)')
    .action(act(io, (a, flags: { api?: string; token?: string }) => a.login(io, flags)));
}

function logoutCommand(io: CliIo): Command {
  return new Command('logout').description('Forget the stored platform login').action(act(io, (a) => a.logout(io)));
}

/** The platform's definition of a verb the engine has too (see ./route.ts). */
export function sharedCommand(io: CliIo, verb: SharedVerb): Command {
  switch (verb) {
    case 'ps':
      return withJson(withApp(new Command('ps').description("List an app's processes (instances)")))
        .argument('[TYPE...]', 'Only these process types')
        .action(
          act(io, (a, types: string[], flags: { app?: string; remote?: string; json?: boolean }) =>
            a.ps(io, types, flags),
          ),
        );
    case 'run':
      return withApp(new Command('run').description("Run a one-off command in a new container of the app's release"))
        .argument('<COMMAND...>')
        .passThroughOptions()
        .option('-e, --env <KEY=VALUE>', 'Set an environment variable for the run', collect)
        .action(
          act(io, (a, cmd: string[], flags: { app?: string; remote?: string; env?: string[] }) =>
            a.run(io, cmd, flags),
          ),
        );
    case 'logs':
      return withJson(withApp(new Command('logs').description("Show an app's logs (platform events and processes)")))
        .option('-n, --num <N>', 'How many lines to show first', '100')
        .option('-f, --follow', 'Keep streaming new lines')
        .option('-s, --source <SOURCE>', 'Only lines from this source: web, web.1, api, build...')
        .action(
          act(
            io,
            (
              a,
              flags: { app?: string; remote?: string; json?: boolean; num: string; follow?: boolean; source?: string },
            ) => a.logs(io, flags),
          ),
        );
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
