/**
 * `nodes`, `nodes:drain`, `nodes:activate`: the nodes instances run on (admin). Loaded on use
 * from ./commands.ts.
 */
import type { Node } from '@paas/api-types';
import { table } from '../../format';
import type { CliIo } from '../../io';
import { bytes, json, shortAgo } from '../format';
import { type JsonFlag, session } from '../session';

export async function nodes(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const list = await client.get<Node[]>('/api/nodes');
  if (flags.json) return io.out(json(list));
  io.out(
    table(
      ['NAME', 'STATE', 'ADDRESS', 'CPUS', 'MEMORY', 'HEARTBEAT'],
      list.map((n) => [
        n.name,
        n.state,
        n.address ?? '',
        typeof n.cpus === 'number' ? String(n.cpus / 1000) : '',
        typeof n.memory === 'number'
          ? `${bytes(n.memory * 1024 * 1024)}${n.overcommit && n.overcommit !== 100 ? ` (x${n.overcommit / 100})` : ''}`
          : '',
        n.lastHeartbeatAt ? shortAgo(n.lastHeartbeatAt) : 'never',
      ]),
    ),
  );
}

/** `nodes:drain NODE` and `nodes:activate NODE`. */
export async function nodesState(
  io: CliIo,
  name: string,
  action: 'drain' | 'activate',
  flags: JsonFlag,
): Promise<void> {
  const { client } = await session(io);
  const node = await client.post<Node>(`/api/nodes/${encodeURIComponent(name)}/${action}`, {});
  if (flags.json) return io.out(json(node));
  io.out(
    action === 'drain'
      ? `Draining ${node.name}: its instances move to other nodes, nothing new is placed on it\n`
      : `${node.name} is active: it takes instances again\n`,
  );
}
