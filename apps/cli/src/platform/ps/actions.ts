/**
 * `ps` (an app's instances), `ps:scale` and `ps:resize` (its formation), `ps:restart` and
 * `ps:stop`. Loaded on use from ./commands.ts.
 *
 * A scale or resize says what really happened: it waits (a few seconds at most, unless
 * --no-wait) until each changed type is as wanted or waits for room, and prints that state
 * (`2 of 3 up, 1 waiting: no node has 512 MiB free`), not only what was asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Formation, FormationUpdate, Instance } from '@paas/api-types';
import { CliError } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import {
  DURATION_RULE,
  autoscaleProblems,
  formationState,
  formationSummary,
  MAX_QUANTITY,
  parseDuration,
} from '@paas/platform/formation';
import { header, json, listing, shortAgo } from '../format';
import { formatFormation, formationUpdates, needsCurrent, parseResizeArgs, parseScaleArgs } from '../scale';
import { type JsonFlag, action, appPath, appSession } from '../session';

export interface WaitFlag {
  /** commander's `--no-wait`. */
  readonly wait?: boolean;
}

/** How long a scale waits for the scheduler to place and start what it asked for. */
const SETTLE_MS = 15_000;
const POLL_MS = 250;

/** Whether a type is as far as it gets for now: every instance up, or the rest waiting for room. */
const settled = (f: Formation): boolean => f.up + f.waiting === f.quantity;

/** Sends the formation updates, then follows them until they settle (or the wait ends). */
async function applyFormation(
  io: CliIo,
  client: ApiClient,
  app: string,
  updates: FormationUpdate[],
  wait: boolean,
): Promise<Formation[]> {
  const changed = (all: Formation[]): Formation[] => all.filter((f) => updates.some((u) => u.type === f.type));
  return action(
    io,
    'Scaling processes',
    async () => {
      let formation = await client.patch<Formation[]>(appPath(app, 'formation'), { updates });
      const deadline = Date.now() + SETTLE_MS;
      while (wait && !changed(formation).every(settled) && Date.now() < deadline) {
        await sleep(POLL_MS);
        formation = await client.get<Formation[]>(appPath(app, 'formation'));
      }
      return formation;
    },
    (formation) =>
      `done, ${listing(changed(formation).map((f) => `${f.type} at ${f.quantity}:${f.size} (${formationState(f)})`))}`,
  );
}

export async function psScale(io: CliIo, args: string[], flags: AppFlags & JsonFlag & WaitFlag): Promise<void> {
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
  const result = await applyFormation(io, client, app, updates, flags.wait !== false);
  if (flags.json) io.out(json(result));
}

/** `ps:resize web=standard-2x`: new sizes, reaching running instances by a rolling restart. */
export async function psResize(io: CliIo, args: string[], flags: AppFlags & JsonFlag & WaitFlag): Promise<void> {
  const changes = parseResizeArgs(args);
  const { client, app } = await appSession(io, flags);
  const current = await client.get<Formation[]>(appPath(app, 'formation'));
  const result = await applyFormation(io, client, app, formationUpdates(changes, current), flags.wait !== false);
  if (flags.json) io.out(json(result));
}

/** `ps:restart [TYPE|TYPE.N]`: a rolling replacement, each instance once its replacement serves. */
export async function psRestart(io: CliIo, target: string | undefined, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const restarting = await action(
    io,
    `Restarting ${target ?? 'all processes'} on ${app}`,
    () =>
      client.post<Instance[]>(appPath(app, 'instances', 'restart'), target === undefined ? {} : { process: target }),
    (list) => `done, ${list.length} replaced one by one as their replacements come up`,
  );
  if (flags.json) io.out(json(restarting));
}

/** `ps:stop web.2`: it leaves now (drained first); the formation brings a new one. */
export async function psStop(io: CliIo, name: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const stopped = await action(
    io,
    `Stopping ${name} on ${app}`,
    () => client.post<Instance>(appPath(app, 'instances', name, 'stop'), {}),
    () => 'done, a new one takes its place',
  );
  if (flags.json) io.out(json(stopped));
}

export interface AutoscaleFlags {
  readonly min: string;
  readonly max: string;
  readonly concurrency: string;
  readonly idle: string;
  /** Absent: no hard limit. */
  readonly hardLimit?: string;
}

/** `ps:autoscale:enable web --min 0 --max 5 --concurrency 20 --idle 15m [--hard-limit 40]`. */
export async function psAutoscaleEnable(
  io: CliIo,
  type: string,
  flags: AppFlags & JsonFlag & AutoscaleFlags,
): Promise<void> {
  const whole = (name: string, text: string): number => {
    if (!/^\d{1,6}$/.test(text)) throw new CliError(`--${name} must be a whole number, not '${text}'`, 2);
    return Number(text);
  };
  const settings = {
    min: whole('min', flags.min),
    max: whole('max', flags.max),
    concurrency: whole('concurrency', flags.concurrency),
    idle: flags.idle,
    ...(flags.hardLimit === undefined ? {} : { hardLimit: whole('hard-limit', flags.hardLimit) }),
  };
  const idleMs = parseDuration(flags.idle);
  if (idleMs === null) throw new CliError(`--idle must be ${DURATION_RULE}, not '${flags.idle}'`, 2);
  const problem = autoscaleProblems({ ...settings, idleMs }, MAX_QUANTITY)[0];
  if (problem) {
    const flag = problem.field === 'hardLimit' ? 'hard-limit' : problem.field;
    throw new CliError(`--${flag}: ${problem.message}`, 2);
  }
  const { client, app } = await appSession(io, flags);
  const formation = await action(
    io,
    `Autoscaling ${type} on ${app}`,
    () => client.put<Formation>(appPath(app, 'formation', type, 'autoscale'), settings),
    (f) => `done, ${formationSummary(f)}`,
  );
  if (flags.json) io.out(json(formation));
}

/** `ps:autoscale:disable web`: the type keeps its count (a sleeping one is woken to 1). */
export async function psAutoscaleDisable(io: CliIo, type: string, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const formation = await action(
    io,
    `Turning autoscale of ${type} off on ${app}`,
    () => client.delete<Formation>(appPath(app, 'formation', type, 'autoscale')),
    (f) => `done, ${f.type} stays at ${f.quantity} (${formationState(f)})`,
  );
  if (flags.json) io.out(json(formation));
}

export async function ps(io: CliIo, types: string[], flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const [instances, formation] = await Promise.all([
    client.get<Instance[]>(appPath(app, 'instances')),
    client.get<Formation[]>(appPath(app, 'formation')),
  ]);
  const shown = types.length ? instances.filter((i) => types.includes(i.type)) : instances;
  if (flags.json) return io.out(json(shown));
  // waiting for room, or asleep: shown though no instance runs
  const waiting = formation.filter(
    (f) => (f.waiting > 0 || f.sleeping) && (types.length === 0 || types.includes(f.type)),
  );
  if (shown.length === 0 && waiting.length === 0) {
    io.out(`No processes are running on ${app}.\n`);
    return;
  }
  const byType = new Map<string, Instance[]>();
  for (const f of waiting) byType.set(f.type, []);
  for (const instance of [...shown].sort((a, b) => a.type.localeCompare(b.type) || a.number - b.number)) {
    byType.set(instance.type, [...(byType.get(instance.type) ?? []), instance]);
  }
  const sections: string[] = [];
  for (const [type, list] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
    const f = formation.find((x) => x.type === type);
    const command = f?.command ? `: ${f.command}` : '';
    const state = f ? ` (${formationSummary(f)})` : ` (${list.length})`;
    const lines = list.map((i) => {
      const extra = [i.release ? `v${i.release.version}` : '', i.node ?? '', i.address ?? '']
        .filter(Boolean)
        .join(', ');
      const resized = f && i.size !== f.size ? ` [${i.size}]` : '';
      return `${i.name}: ${i.state} ${shortAgo(i.updatedAt)}${extra ? ` (${extra})` : ''}${resized}\n`;
    });
    // what no node has room for yet, numbered as the scheduler will number it
    if (f && f.waiting > 0) {
      const taken = new Set(list.filter((i) => i.state !== 'stopping').map((i) => i.number));
      for (let n = 1, left = f.waiting; left > 0; n++) {
        if (taken.has(n)) continue;
        lines.push(`${type}.${n}: pending${f.waitingReason ? ` (${f.waitingReason})` : ''}\n`);
        left--;
      }
    }
    sections.push(header(`${type}${f ? ` (${f.size})` : ''}${command}${state}`) + lines.join(''));
  }
  io.out(sections.join('\n'));
}
