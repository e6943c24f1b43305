/**
 * `reviews`: an app's review apps, one per pushed branch (docs/api.md "Review apps"). Loaded on
 * use from ./commands.ts.
 */
import type { ReviewApp } from '@paas/api-types';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { columns, header, json, shortAgo } from '../format';
import { type JsonFlag, appPath, appSession } from '../session';

export async function reviews(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const list = await client.get<ReviewApp[]>(appPath(app, 'reviews'));
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.err(`${app} has no review apps: \`git push paas BRANCH\` makes one\n`);
  io.out(header(`${app} Review Apps`));
  io.out(
    columns([
      ['Name', 'Branch', 'URL', 'Last push', 'State'],
      ...list.map((r) => [r.name, r.branch, r.url, shortAgo(r.lastPushAt), r.state]),
    ]),
  );
}
