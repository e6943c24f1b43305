/**
 * `https`, `https:redirect on|off`, `https:hsts on|off [--max-age S]`: an app's HTTPS policy on
 * the routers. Definitions only; the work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

type Flags = { app?: string; remote?: string; json?: boolean };

export function httpsCommands(io: CliIo): Command[] {
  const https = withJson(withApp(command('https', "Show an app's HTTPS redirect and HSTS"))).action(
    act(io, actions, (a, flags: Flags) => a.https(io, flags)),
  );
  const redirect = withJson(withApp(command('https:redirect', 'Redirect plain HTTP to HTTPS (308), or stop')))
    .argument('<on|off>')
    .action(act(io, actions, (a, value: string, flags: Flags) => a.httpsRedirect(io, value, flags)));
  const hsts = withJson(withApp(command('https:hsts', 'Send Strict-Transport-Security on HTTPS answers, or stop')))
    .argument('<on|off>')
    .option('--max-age <SECONDS>', 'max-age in seconds (default 31536000, a year)')
    .action(act(io, actions, (a, value: string, flags: Flags & { maxAge?: string }) => a.httpsHsts(io, value, flags)));
  return [https, redirect, hsts];
}
