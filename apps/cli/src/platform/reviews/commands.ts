/**
 * `reviews`: an app's review apps, made by pushes of its other branches. Definitions only; the
 * work is loaded on use from ./actions.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../io';
import { act, command, withApp, withJson } from '../define';

const actions = () => import('./actions');

export function reviewsCommands(io: CliIo): Command[] {
  const reviews = withJson(
    withApp(command('reviews', "List an app's review apps (`git push paas BRANCH` makes one, --delete removes it)")),
  ).action(act(io, actions, (a, flags: { app?: string; remote?: string; json?: boolean }) => a.reviews(io, flags)));
  return [reviews];
}
