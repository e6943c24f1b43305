/**
 * `maintenance`, `maintenance:on`, `maintenance:off`: whether the routers answer an app 503 with
 * a maintenance page (Heroku's verbs). Definitions only; the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };

export function maintenanceCommands(io: CliIo): Command[] {
  const show = withJson(
    withApp(command('maintenance', 'Show whether an app is in maintenance mode (on or off)')),
  ).action(act(io, actions, (a, flags: Flags) => a.maintenance(io, flags)));
  const on = withJson(
    withApp(command('maintenance:on', 'Put an app in maintenance mode: every request answers 503 with a page')),
  ).action(act(io, actions, (a, flags: Flags) => a.maintenanceSet(io, true, flags)));
  const off = withJson(
    withApp(command('maintenance:off', 'Take an app out of maintenance mode: it serves again')),
  ).action(act(io, actions, (a, flags: Flags) => a.maintenanceSet(io, false, flags)));
  return [show, on, off];
}
