/**
 * `certs`, `certs:add`, `certs:info`, `certs:remove`: an app's TLS certificates; `certs:auto`,
 * `certs:auto:enable`, `certs:auto:disable`: certificates over ACME. Definitions
 * only; the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };

export function certsCommands(io: CliIo): Command[] {
  const certs = withJson(withApp(command('certs', "List an app's TLS certificates"))).action(
    act(io, actions, (a, flags: Flags) => a.certs(io, flags)),
  );
  const certsAdd = withJson(withApp(command('certs:add', 'Add a TLS certificate (PEM chain, leaf first) and its key')))
    .argument('<CERT_FILE>')
    .argument('<KEY_FILE>')
    .action(act(io, actions, (a, cert: string, key: string, flags: Flags) => a.certsAdd(io, cert, key, flags)));
  const certsInfo = withJson(withApp(command('certs:info', 'Show one TLS certificate')))
    .argument('<ID>')
    .action(act(io, actions, (a, id: string, flags: Flags) => a.certsInfo(io, id, flags)));
  const certsRemove = withApp(command('certs:remove', 'Remove a TLS certificate'))
    .argument('<ID>')
    .option('--confirm <APP>', 'the app name, to confirm')
    .action(act(io, actions, (a, id: string, flags: Flags & { confirm?: string }) => a.certsRemove(io, id, flags)));
  const auto = withJson(withApp(command('certs:auto', "Show the state of an app's automatic certificates"))).action(
    act(io, actions, (a, flags: Flags) => a.certsAuto(io, flags)),
  );
  const autoEnable = withJson(
    withApp(command('certs:auto:enable', "Obtain and renew certificates for an app's custom domains over ACME")),
  ).action(act(io, actions, (a, flags: Flags) => a.certsAutoEnable(io, flags)));
  const autoDisable = withJson(
    withApp(command('certs:auto:disable', 'Stop obtaining certificates (those obtained serve until they expire)')),
  ).action(act(io, actions, (a, flags: Flags) => a.certsAutoDisable(io, flags)));
  return [certs, certsAdd, certsInfo, certsRemove, auto, autoEnable, autoDisable];
}
