/**
 * `nodes`, `nodes:drain`, `nodes:activate`, `nodes:join-token`, `nodes:remove`: the nodes
 * instances run on (admin). Loaded on use from ./commands.ts.
 */
import type { ControlPlane, IssuedJoinToken, Node, RemovedNode } from '@paas/api-types';
import { isLoopbackHost } from '@paas/config';
import { joinCommand } from '@paas/platform/join';
import { CliError } from '../../errors';
import { table } from '../../format';
import type { CliIo } from '../../io';
import { promptLine } from '../../terminal';
import { apiPath } from '../client';
import { bytes, json, shortAgo } from '../format';
import { type JsonFlag, action, session } from '../session';
import { normalizeUrl } from '../target';

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

/**
 * `nodes:join-token`: a single-use join token, and the one command to run on the new machine
 * with the URL of the api this CLI talks to, or `--api-url` (the api as the new machine
 * reaches it, when this CLI talks to it on loopback).
 */
export async function nodesJoinToken(io: CliIo, flags: JsonFlag & { ttl?: string; apiUrl?: string }): Promise<void> {
  const apiUrl = flags.apiUrl === undefined ? undefined : normalizeUrl(flags.apiUrl, '--api-url');
  const { client, target } = await session(io);
  const made = await client.post<IssuedJoinToken>('/api/nodes/join-tokens', flags.ttl ? { ttl: flags.ttl } : {});
  const url = apiUrl ?? target.url;
  const command = joinCommand(url, made.token, made.caHash);
  if (flags.json) return io.out(json({ ...made, command }));
  io.err(`Join token ${made.prefix}… valid until ${made.expiresAt}, for one machine; it is shown only once.\n`);
  if (isLoopbackHost(new URL(url).hostname))
    io.err(`Warning: ${url} is loopback: give --api-url with the address other machines reach the api at.\n`);
  io.err('Run this on the new machine:\n');
  io.out(`${command}\n`);
}

/** `nodes:remove NODE`: the node goes and its credentials are revoked; asks to confirm as apps:destroy does. */
export async function nodesRemove(
  io: CliIo,
  name: string,
  flags: JsonFlag & { confirm?: string; force?: boolean },
): Promise<void> {
  let confirm = flags.confirm;
  if (confirm === undefined && process.stdin.isTTY) {
    io.err(`WARNING: this removes node ${name} and revokes its credentials: its agent is refused from now on.\n`);
    confirm = await promptLine(`To proceed, type ${name} or re-run this command with --confirm ${name}\n> `);
  }
  if (confirm === undefined) throw new CliError(`this would remove node ${name}: re-run with --confirm ${name}`);
  if (confirm !== name) throw new CliError(`confirmation '${confirm}' did not match ${name}; nothing was removed`);
  const { client } = await session(io);
  const path = `${apiPath('nodes', name)}${flags.force ? '?force=true' : ''}`;
  const removed = await action(
    io,
    `Removing node ${name}`,
    () => client.delete<RemovedNode>(path),
    (r) =>
      `done, ${r.revoked} credential${r.revoked === 1 ? '' : 's'} revoked${r.replaced ? `, ${r.replaced} instance${r.replaced === 1 ? '' : 's'} to place elsewhere` : ''}`,
  );
  if (flags.json) io.out(json(removed));
}
