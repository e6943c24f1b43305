/**
 * The api's half of git's proc-receive hook protocol (githooks(5), git >= 2.29).
 *
 * receive-pack is started with `receive.procReceiveRefs` naming every branch (repos.ts
 * PROC_RECEIVE_REFS), so instead of moving those refs itself it hands their commands to the
 * `proc-receive` hook. Our hook
 * (repos.ts) is a relay of three `cat`s over file descriptors the api gave receive-pack when
 * it spawned it, which the hook inherits:
 *
 *   fd 3  hook -> api   what receive-pack says to the hook (its stdin)
 *   fd 4  api -> hook   what the hook answers (its stdout)
 *   fd 5  api -> hook   progress, copied to the hook's stderr, which receive-pack sends to
 *                       the pusher on the sideband: git prints it as `remote: ` lines
 *
 * So no socket, port or secret exists: only the process that spawned this receive-pack can
 * speak for its hook. The exchange:
 *
 *   S: version=1\0<features>  flush      H: version=1  flush
 *   S: <old> <new> <ref> ...  flush
 *   (build, streaming progress)          H: ok <ref> | ng <ref> <reason> | ok <ref> +
 *                                           option fall-through ...  flush
 *
 * `ok` means the hook moved the ref itself; `ng` rejects it (git prints `! [remote rejected]
 * main -> main (<reason>)`); `fall-through` lets receive-pack update the ref as usual.
 */
import type { Readable, Writable } from 'node:stream';
import { FLUSH, PktLineError, PktLineReader, pkt } from './pkt-line';

export interface PushCommand {
  readonly oldId: string;
  readonly newId: string;
  readonly ref: string;
}

export type CommandResult =
  { readonly status: 'ok' } | { readonly status: 'fall-through' } | { readonly status: 'ng'; readonly reason: string };

/** Lines the pusher sees as `remote: …`. */
export interface PushProgress {
  line(text: string): void;
}

export type CommandHandler = (commands: readonly PushCommand[], progress: PushProgress) => Promise<CommandResult[]>;

export interface HookChannels {
  readonly fromHook: Readable;
  readonly toHook: Writable;
  readonly progress: Writable;
}

const COMMAND = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/\S+)$/;

export function isZeroId(id: string): boolean {
  return /^0+$/.test(id);
}

/**
 * Serves one receive-pack's proc-receive hook, if it runs: `not-run` when receive-pack ends
 * without running it (the push touched no branch).
 */
export async function serveProcReceive(channels: HookChannels, handler: CommandHandler): Promise<'served' | 'not-run'> {
  // the hook may be gone (killed, or receive-pack died): writes then fail, and that is fine
  channels.toHook.on('error', () => undefined);
  channels.progress.on('error', () => undefined);
  const reader = new PktLineReader(channels.fromHook);
  try {
    const hello = await reader.section();
    if (hello === undefined) return 'not-run';
    const version = /^version=(\d+)/.exec(hello[0] ?? '')?.[1];
    if (version !== '1') throw new PktLineError(`proc-receive: unsupported protocol ${JSON.stringify(hello[0] ?? '')}`);
    channels.toHook.write(Buffer.concat([pkt('version=1\n'), FLUSH]));
    const lines = await reader.section();
    if (lines === undefined) return 'served';
    const commands = lines.map((line) => {
      const match = COMMAND.exec(line);
      if (!match) throw new PktLineError(`proc-receive: bad command ${JSON.stringify(line)}`);
      return { oldId: match[1] ?? '', newId: match[2] ?? '', ref: match[3] ?? '' };
    });
    const progress: PushProgress = { line: (text) => channels.progress.write(`${text}\n`) };
    let results: CommandResult[];
    try {
      results = await handler(commands, progress);
    } catch (err) {
      progress.line(` !     ${(err as Error).message}`);
      results = commands.map(() => ({ status: 'ng', reason: 'internal error' }));
    }
    const report: Buffer[] = [];
    commands.forEach((command, i) => {
      const result = results[i] ?? { status: 'ng', reason: 'not handled' };
      if (result.status === 'ng') report.push(pkt(`ng ${command.ref} ${result.reason.replace(/\n/g, ' ')}\n`));
      else report.push(pkt(`ok ${command.ref}\n`));
      if (result.status === 'fall-through') report.push(pkt('option fall-through\n'));
    });
    report.push(FLUSH);
    await end(channels.progress);
    channels.toHook.write(Buffer.concat(report));
    return 'served';
  } finally {
    await Promise.all([end(channels.progress), end(channels.toHook)]);
  }
}

function end(stream: Writable): Promise<void> {
  if (stream.writableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.end(() => resolve()));
}
