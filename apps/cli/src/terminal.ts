/**
 * What the verbs take from the terminal: all of stdin, one typed line (a secret one unechoed),
 * a yes/no before something is removed, and Ctrl-C as the end of a stream rather than of the
 * process.
 */
import { spawnSync } from 'node:child_process';
import type { CliIo } from './io';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** A secret piped in (`echo $PW | paas login --password-stdin`): stdin without its final newline. */
export async function readSecretStdin(): Promise<string> {
  return (await readStdin()).replace(/\r?\n$/, '');
}

/** One line from the terminal; with `secret`, what is typed is not echoed. */
export async function promptLine(prompt: string, secret = false): Promise<string> {
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(prompt, (answer) => resolve(answer.trim()));
      muted = secret;
    });
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}

/** Cancels `work` on Ctrl-C (the signal's handler is removed after). */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T | 'interrupted'> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } catch (err) {
    if (controller.signal.aborted) return 'interrupted';
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Asks on the terminal; without one (a script), the answer is no, as with Docker. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    io.err(`${question}\nnot a terminal: pass -f to confirm\n`);
    return false;
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Docker's default detach keys, ctrl-p ctrl-q. */
const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/**
 * Finds Docker's detach sequence (ctrl-p ctrl-q) in what is typed. A ctrl-p is held back until
 * the next byte shows whether the sequence follows; if not, both go on, as Docker does.
 */
export class DetachKeys {
  private held = false;

  /** What to send on, and whether the sequence was typed (the rest of the chunk is dropped). */
  feed(chunk: Uint8Array): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.held) {
        this.held = false;
        if (byte === CTRL_Q) return { forward: Buffer.from(out), detach: true };
        out.push(CTRL_P);
      }
      if (byte === CTRL_P) this.held = true;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

/** A remote terminal as a session needs it: the engine's attach, or the api's upgraded stream. */
export interface RemoteTerminal {
  readonly output: NodeJS.ReadableStream;
  readonly input: NodeJS.WritableStream;
  resize(size: { rows: number; cols: number }): void;
  endInput(): void;
  close(): void;
}

/** The size of the terminal on stdout (Docker sizes a container's terminal by it), if it is one. */
export function stdoutSize(): { rows: number; cols: number } | undefined {
  const out = process.stdout;
  return out.isTTY && out.rows > 0 && out.columns > 0 ? { rows: out.rows, cols: out.columns } : undefined;
}

export type SessionEnd = 'ended' | 'detached' | 'signal';

/**
 * Joins this terminal to a remote one until its output ends (the run is over), the user
 * types the detach keys, or this process gets SIGTERM or SIGHUP. With `stdin` (a terminal, the caller checked), stdin goes raw: every
 * key goes to the remote terminal, whose line discipline echoes it and turns ctrl-c into
 * SIGINT there; raw mode is restored however the session ends, also on a signal or exit.
 * The remote terminal follows this one's size (SIGWINCH). `nudge`: resize one row and column
 * bigger first, so that a program already waiting redraws (Docker's trick on `attach`).
 * `detachKeys: false`: ctrl-p ctrl-q are keys like others (a one-off cannot be left running).
 */
export async function interactiveSession(
  terminal: RemoteTerminal,
  opts: { stdin: boolean; nudge?: boolean; detachKeys?: boolean },
): Promise<SessionEnd> {
  const stdin = process.stdin;
  const raw = opts.stdin && stdin.isTTY;
  const restore = (): void => {
    if (raw && stdin.isTTY) stdin.setRawMode(false);
  };
  const resize = (): void => {
    const size = stdoutSize();
    if (size) terminal.resize(size);
  };
  const initial = stdoutSize();
  if (initial && opts.nudge) terminal.resize({ rows: initial.rows + 1, cols: initial.cols + 1 });
  resize();
  process.on('SIGWINCH', resize);
  process.on('exit', restore);
  let finish: (outcome: SessionEnd) => void = () => undefined;
  const done = new Promise<SessionEnd>((resolve) => (finish = resolve));
  const signalled = (): void => finish('signal');
  process.on('SIGTERM', signalled);
  process.on('SIGHUP', signalled);
  const keys = new DetachKeys();
  const typed = (chunk: Buffer): void => {
    const { forward, detach } = opts.detachKeys === false ? { forward: chunk, detach: false } : keys.feed(chunk);
    if (forward.length) terminal.input.write(forward);
    if (detach) finish('detached');
  };
  const output = (chunk: Buffer): void => void process.stdout.write(chunk);
  terminal.output.on('data', output);
  terminal.output.once('end', () => finish('ended'));
  terminal.output.once('close', () => finish('ended'));
  if (opts.stdin) {
    if (raw) {
      stdin.setRawMode(true);
      // libuv's raw mode keeps output processing (a "\n" from the container's terminal, which
      // did its own, would reach this one as "\r\n" again); setRawMode(false) restores it
      spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
    }
    stdin.on('data', typed);
    stdin.once('end', () => terminal.endInput());
    stdin.resume();
  }
  try {
    return await done;
  } finally {
    process.off('SIGWINCH', resize);
    process.off('SIGTERM', signalled);
    process.off('SIGHUP', signalled);
    process.off('exit', restore);
    terminal.output.off('data', output);
    if (opts.stdin) {
      stdin.off('data', typed);
      stdin.pause();
    }
    restore();
    terminal.close();
  }
}
