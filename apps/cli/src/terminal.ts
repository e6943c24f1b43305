/**
 * What the verbs take from the terminal: all of stdin, one typed line (a secret one unechoed),
 * a yes/no before something is removed, and Ctrl-C as the end of a stream rather than of the
 * process.
 */
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
