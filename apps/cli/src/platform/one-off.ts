/**
 * A one-off run over the api (`POST /api/apps/:app/runs`, docs/api.md): its output streamed to
 * stdout as it comes, its remote exit status the CLI's. Shared by `run` and the add-ons'
 * `pg:psql` and `redis:cli`, which run in the add-on's image (`addon`).
 */
import { StringDecoder } from 'node:string_decoder';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { PassThrough, Writable } from 'node:stream';
import { FRAME_DATA, FRAME_EXIT, FrameDecoder, TTY_PROTOCOL, dataFrames, resizeFrame } from '@paas/engine';
import { type RemoteTerminal, interactiveSession, stdoutSize, untilInterrupted } from '../terminal';
import type { ApiClient } from './client';
import { ExitTrailerSplitter } from './exit-trailer';
import { appPath } from './session';

export interface OneOffBody {
  /** One string is a shell command line (`sh -c`); an array is an argv. */
  readonly command: string | readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Run in this add-on's image, with access to it, instead of the app's release. */
  readonly addon?: string;
}

/**
 * Runs `body` on `app` on a terminal joined to this one (stdin and stdout must be terminals:
 * the caller checks): raw mode, keys, resizes, as `paas run -it`; resolves when the command
 * exited 0, else throws its exit code. The container goes when this ends, however it ends.
 */
export async function runOneOffTerminal(client: ApiClient, app: string, body: OneOffBody): Promise<void> {
  const size = stdoutSize();
  const { socket, head } = await client.upgrade('POST', appPath(app, 'runs'), TTY_PROTOCOL, {
    body: { ...body, tty: true, ...(size ? { rows: size.rows, cols: size.cols } : {}) },
  });
  let code: number | undefined;
  const output = new PassThrough();
  const decoder = new FrameDecoder();
  const take = (chunk: Buffer): void => {
    try {
      for (const frame of decoder.push(chunk)) {
        if (frame.type === FRAME_DATA) output.write(frame.payload);
        else if (frame.type === FRAME_EXIT) code = Number(frame.payload.toString('latin1'));
      }
    } catch {
      socket.destroy(); // not the protocol: no status will come
    }
  };
  socket.on('data', take);
  socket.once('close', () => output.end());
  socket.on('error', () => socket.destroy());
  if (head.length) take(head);
  const terminal: RemoteTerminal = {
    output,
    input: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (socket.destroyed) callback();
        else socket.write(dataFrames(chunk), () => callback());
      },
    }),
    resize: (rows) => void (!socket.destroyed && socket.write(resizeFrame(rows))),
    // the api takes a half-closed connection for a client gone: the run ends
    endInput: () => socket.end(),
    close: () => socket.destroy(),
  };
  const end = await interactiveSession(terminal, { stdin: true, nudge: true, detachKeys: false });
  if (end === 'signal') throw new CliError('', 130);
  if (code === undefined) throw new CliError(`the connection to the api closed before the command's exit status came`);
  if (code !== 0) throw new CliError('', code);
}

/** Runs `body` on `app`; resolves when the command exited 0, else throws its exit code (130 on Ctrl-C). */
export async function runOneOff(io: CliIo, client: ApiClient, app: string, body: OneOffBody): Promise<void> {
  let code: number | undefined;
  const outcome = await untilInterrupted(async (signal) => {
    const res = await client.open('POST', appPath(app, 'runs'), { body, accept: 'text/plain', signal });
    const splitter = new ExitTrailerSplitter();
    const decoder = new StringDecoder('utf8');
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const text = decoder.write(splitter.push(chunk));
      if (text) io.out(text);
    }
    const end = splitter.end();
    const rest = decoder.write(end.rest) + decoder.end();
    if (rest) io.out(rest);
    code = end.code;
  });
  if (outcome === 'interrupted') throw new CliError('', 130);
  if (code === undefined) throw new CliError(`the connection to the api closed before the command's exit status came`);
  if (code !== 0) throw new CliError('', code);
}
