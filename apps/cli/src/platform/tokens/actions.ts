/**
 * `tokens`, `tokens:create`, `tokens:revoke`: the API's tokens (admin). Loaded on use from
 * ./commands.ts.
 */
import type { IssuedToken, Token } from '@paas/api-types';
import { CliError } from '../../errors';
import { table } from '../../format';
import type { CliIo } from '../../io';
import { apiPath } from '../client';
import { json, shortAgo } from '../format';
import { type JsonFlag, action, session } from '../session';

export async function tokens(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const list = await client.get<Token[]>('/api/tokens');
  if (flags.json) return io.out(json(list));
  io.out(
    table(
      ['ID', 'NAME', 'PREFIX', 'KIND', 'APPS', 'CREATED', 'LAST USED'],
      list.map((t) => [
        t.id,
        t.name,
        t.prefix,
        t.admin ? 'admin' : t.node ? 'node' : 'apps',
        t.node ? '(none)' : t.apps === null ? '(all)' : t.apps.join(','),
        shortAgo(t.createdAt),
        t.lastUsedAt ? shortAgo(t.lastUsedAt) : 'never',
      ]),
    ),
  );
}

export async function tokensCreate(
  io: CliIo,
  name: string,
  flags: JsonFlag & { apps?: string; admin?: boolean; node?: boolean },
): Promise<void> {
  if (flags.node && (flags.admin || flags.apps !== undefined))
    throw new CliError('--node makes a token for an agent, for no app: leave out --apps and --admin');
  const { client } = await session(io);
  const apps = flags.apps
    ?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const created = await client.post<IssuedToken>('/api/tokens', {
    name,
    ...(apps?.length ? { apps } : {}),
    ...(flags.admin ? { admin: true } : {}),
    ...(flags.node ? { node: true } : {}),
  });
  if (flags.json) return io.out(json(created));
  io.err(`Created token ${created.name} (${created.id}); it is shown only once:\n`);
  io.out(`${created.token}\n`);
}

export async function tokensRevoke(io: CliIo, id: string): Promise<void> {
  const { client } = await session(io);
  await action(
    io,
    `Revoking token ${id}`,
    () => client.delete<Token>(apiPath('tokens', id)),
    (t) => `done (${t.name})`,
  );
}
