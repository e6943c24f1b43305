/**
 * Registry verbs: `pull`, `push`, `login`, `logout`, and the `registry` group (`serve`,
 * `user add|rm`). Definitions only; the work is loaded on use from ../registry/actions.
 */
import { Command, Option } from 'commander';
import type { CliIo } from '../io';
import type { ServeFlags } from '../registry/actions';

const actions = () => import('../registry/actions');

export function registryCommands(io: CliIo): Command[] {
  const group = new Command('registry').description('Run an image registry (OCI distribution API)');
  group.addCommand(
    new Command('serve')
      .description('Serve the registry in the foreground until interrupted')
      .option('--addr <HOST:PORT>', 'Listen address (default $PAAS_REGISTRY_ADDR or 127.0.0.1:5000)')
      .option('--root <DIR>', 'Storage directory (default $PAAS_ROOT/registry)')
      .addOption(
        new Option(
          '--auth <MODE>',
          'token: users (`paas registry user add`) log in for tokens; none: anyone may push, delete and ' +
            'list, allowed on a loopback address only',
        )
          .choices(['none', 'token'])
          .default('token'),
      )
      .option('--anonymous-pull', 'With token auth, let anonymous clients pull (never push, delete or list)')
      .option('--realm <URL>', 'Token endpoint URL announced to clients (default http[s]://<host>/token)')
      .option(
        '--proxy-remote <URL>',
        'Also a pull-through cache of this upstream (https://registry-1.docker.io) for namespaced repositories',
      )
      .option('--proxy-username <USER>', 'Login at the upstream (password from $PAAS_REGISTRY_PROXY_PASSWORD)')
      .option(
        '--insecure-http',
        'Serve plain HTTP off loopback too, for TLS terminated in front; clients must then list the ' +
          'registry in $PAAS_INSECURE_REGISTRIES',
      )
      .option('--access-log', 'Print one line per request on stdout: client, method, path, status, bytes sent')
      .addHelpText(
        'after',
        `
Defaults, as Docker's distribution with auth configured: every request needs a token, which
users get at /token with their password. A user pulls and pushes (--pull-only: pulls only;
--delete: also deletes manifests, tags and blobs); any user may list the catalog. Anonymous
clients get nothing, or pull tokens with --anonymous-pull. --auth none (anyone may push,
delete and list) is refused unless the listen address is loopback.

Off loopback it serves HTTPS, as the api does: $PAAS_REGISTRY_TLS_CERT and _KEY, or a leaf of
the platform CA ($PAAS_ROOT/platform/tls, made on first use) naming the listen address, this
host's names and $PAAS_REGISTRY_TLS_SANS, renewed without a restart. Clients trust that CA
through $PAAS_CA_FILE (or the CA under their own $PAAS_ROOT). On loopback it stays plain HTTP.

With --proxy-remote (registry:2's proxy.remoteurl) a pull of a namespaced repository
(library/node) fetches what is missing from the upstream once and serves it from here after;
a tag is re-checked upstream with a HEAD, blobs never. One-component repositories (the
platform's releases) are never proxied, and proxied ones cannot be pushed to.`,
      )
      .action(async (opts: ServeFlags) => (await actions()).serve(io, opts)),
  );
  const user = new Command('user').description('Manage the users of a token-auth registry');
  user.addCommand(
    new Command('add')
      .description('Add a user or change its password (read from stdin with --password-stdin)')
      .argument('<NAME>')
      .option('--root <DIR>', 'Storage directory (default $PAAS_ROOT/registry)')
      .option('-p, --password <PASSWORD>', 'Password')
      .option('--password-stdin', 'Take the password from stdin')
      .option('--pull-only', 'The user may pull but not push')
      .option('--delete', 'The user may also delete manifests, tags and blobs')
      .action(
        async (
          name: string,
          opts: { root?: string; password?: string; passwordStdin?: boolean; pullOnly?: boolean; delete?: boolean },
        ) => (await actions()).userAdd(io, name, opts),
      ),
  );
  user.addCommand(
    new Command('rm')
      .description('Remove a user')
      .argument('<NAME>')
      .option('--root <DIR>', 'Storage directory (default $PAAS_ROOT/registry)')
      .action(async (name: string, opts: { root?: string }) => (await actions()).userRemove(io, name, opts)),
  );
  group.addCommand(user);

  const pull = new Command('pull')
    .description('Download an image from a registry')
    .argument('<NAME[:TAG|@DIGEST]>')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (ref: string, opts: { quiet?: boolean }) => (await actions()).pull(io, ref, opts));
  const push = new Command('push')
    .description('Upload an image to a registry')
    .argument('<NAME[:TAG]>')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (ref: string, opts: { quiet?: boolean }) => (await actions()).push(io, ref, opts));
  const login = new Command('login')
    .description('Log in to a registry')
    .argument('<SERVER>')
    .option('-u, --username <USER>', 'Username')
    .option('-p, --password <PASSWORD>', 'Password')
    .option('--password-stdin', 'Take the password from stdin')
    .action(async (host: string, opts: { username?: string; password?: string; passwordStdin?: boolean }) =>
      (await actions()).login(io, host, opts),
    );
  const logout = new Command('logout')
    .description('Log out from a registry')
    .argument('<SERVER>')
    .action(async (host: string) => (await actions()).logout(io, host));
  return [pull, push, login, logout, group];
}
