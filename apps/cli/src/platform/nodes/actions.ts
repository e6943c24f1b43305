/**
 * `nodes`, `nodes:drain`, `nodes:activate`: the nodes instances run on (admin). Loaded on use
 * from ./commands.ts.
 */
import type { ControlPlane, Node } from '@paas/api-types';
import { table } from '../../format';
import type { CliIo } from '../../io';
import { bytes, json, shortAgo } from '../format';
import { type JsonFlag, session } from '../session';

export async function nodes(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client } = await session(io);
  const [list, plane] = await Promise.all([
    client.get<Node[]>('/api/nodes'),
    // an api from before control-plane replicas has no such route, and an app token may not
    // read it: the table alone then
    client.get<ControlPlane>('/api/control-plane').catch(() => null),
  ]);
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
  if (plane) io.out(`${schedulerLine(plane)}\n`);
}

/** Which api runs the scheduler, under the nodes table. */
function schedulerLine({ leader }: ControlPlane): string {
  if (!leader) return 'Scheduler: no api has led yet';
  const at = leader.address ? ` at ${leader.address}` : '';
  const since = leader.since ? `, took office ${shortAgo(leader.since)}` : '';
  return `Scheduler: led by api ${leader.holder}${at} (term ${leader.term}${since})`;
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
