/**
 * What the platform verbs take from the terminal: all of stdin, one typed line (a secret one
 * unechoed), and Ctrl-C as the end of a stream rather than of the process.
 */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
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
