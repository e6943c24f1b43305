/**
 * `drains`, `drains:add`, `drains:remove`: where an app's log lines are forwarded, and how
 * delivery stands (docs/api.md "Log drains"). Loaded on use from ./commands.ts.
 */
import type { Drain } from '@paas/api-types';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { columns, header, json, shortAgo } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

export async function drains(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const list = await client.get<Drain[]>(appPath(app, 'drains'));
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.err(`${app} has no log drains\n`);
  io.out(header(`${app} Drains`));
  io.out(
    columns([
      ['ID', 'URL', 'State', 'Delivered', 'Dropped'],
      ...list.map((d) => [d.id, d.url, state(d), String(d.delivered), String(d.dropped)]),
    ]),
  );
  const failing = list.filter((d) => d.state === 'failing' && d.lastError);
  for (const d of failing) io.out(`\n${d.url}: ${d.lastError}\n`);
}

function state(drain: Drain): string {
  return drain.state === 'failing' ? `failing since ${shortAgo(drain.failingSince)}` : 'delivering';
}

export async function drainsAdd(io: CliIo, url: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const drain = await action(io, `Adding a log drain to ${app}`, () =>
    client.post<Drain>(appPath(app, 'drains'), { url }),
  );
  if (flags.json) return io.out(json(drain));
  io.out(`${drain.url} (${drain.token})\n`);
}

export async function drainsRemove(io: CliIo, drain: string, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const removed = await action(io, `Removing a log drain from ${app}`, () =>
    client.delete<Drain>(appPath(app, 'drains', drain)),
  );
  io.out(`${removed.url} removed\n`);
}
