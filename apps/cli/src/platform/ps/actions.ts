/**
 * `ps` (an app's instances) and `ps:scale` (its formation). Loaded on use from ./commands.ts.
 */
import type { Formation, Instance } from '@paas/api-types';
import { CliError } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { header, json, listing, shortAgo } from '../format';
import { formatFormation, formatMemory, formationUpdates, needsCurrent, parseScaleArgs } from '../scale';
import { type JsonFlag, action, appPath, appSession } from '../session';

export async function psScale(io: CliIo, args: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const request = parseScaleArgs(args);
  const { client, app } = await appSession(io, flags);
  if ('show' in request) {
    const formation = await client.get<Formation[]>(appPath(app, 'formation'));
    const unknown = request.show.filter((t) => !formation.some((f) => f.type === t));
    if (unknown.length) {
      throw new CliError(
        `no process type ${listing(unknown.map((t) => `'${t}'`))} on ${app}; it has ${formation.map((f) => f.type).join(', ') || 'none'}`,
      );
    }
    const shown = request.show.length ? formation.filter((f) => request.show.includes(f.type)) : formation;
    if (flags.json) return io.out(json(shown));
    if (shown.length === 0) throw new CliError(`no process types on ${app}: deploy it first (git push paas main)`);
    io.out(`${shown.map(formatFormation).join(' ')}\n`);
    return;
  }
  const current = needsCurrent(request.changes) ? await client.get<Formation[]>(appPath(app, 'formation')) : [];
  const updates = formationUpdates(request.changes, current);
  const result = await action(
    io,
    'Scaling processes',
    () => client.patch<Formation[]>(appPath(app, 'formation'), { updates }),
    (formation) => {
      const changed = formation.filter((f) => updates.some((u) => u.type === f.type));
      const running = changed.map(
        (f) => `${f.type} at ${f.quantity}${typeof f.memory === 'number' ? `:${formatMemory(f.memory)}` : ''}`,
      );
      return `done, now running ${listing(running)}`;
    },
  );
  if (flags.json) io.out(json(result));
}

export async function ps(io: CliIo, types: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [instances, formation] = await Promise.all([
    client.get<Instance[]>(appPath(app, 'instances')),
    client.get<Formation[]>(appPath(app, 'formation')),
  ]);
  const shown = types.length ? instances.filter((i) => types.includes(i.type)) : instances;
  if (flags.json) return io.out(json(shown));
  if (shown.length === 0) {
    io.out(`No processes are running on ${app}.\n`);
    return;
  }
  const byType = new Map<string, Instance[]>();
  for (const instance of [...shown].sort((a, b) => a.type.localeCompare(b.type) || a.number - b.number)) {
    byType.set(instance.type, [...(byType.get(instance.type) ?? []), instance]);
  }
  const sections: string[] = [];
  for (const [type, list] of byType) {
    const f = formation.find((x) => x.type === type);
    const size = typeof f?.memory === 'number' ? ` (${formatMemory(f.memory)})` : '';
    const command = f?.command ? `: ${f.command}` : '';
    const lines = list.map((i) => {
      const extra = [i.release ? `v${i.release.version}` : '', i.node ?? '', i.address ?? '']
        .filter(Boolean)
        .join(', ');
      return `${i.name}: ${i.state} ${shortAgo(i.updatedAt)}${extra ? ` (${extra})` : ''}\n`;
    });
    sections.push(header(`${type}${size}${command} (${list.length})`) + lines.join(''));
  }
  io.out(sections.join('\n'));
}
