/**
 * The wire of a one-off run's terminal (docs/api.md "One-off runs with a terminal"): after the
 * 101, the shim's attach frames both ways (@paas/engine attach.ts) and, last from the api, an
 * exit frame.
 */
import {
  FRAME_DATA,
  FRAME_RESIZE,
  FrameDecoder,
  TTY_PROTOCOL,
  type TerminalAttachment,
  dataFrames,
  isConsoleSize,
} from '@paas/engine';
import type { Duplex } from 'node:stream';

/** The most of a run's output the api keeps for a client that does not read. */
const OUTPUT_BUFFER_MAX = 1024 * 1024;
export const SWITCHING_PROTOCOLS = `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TTY_PROTOCOL}\r\n\r\n`;

/**
 * Joins a container's terminal to a client: its frames in (`d` typed, `w` resize; anything
 * else ends the connection, as the shim ends a client's), the terminal's output out as `d`
 * frames. Resolves `ended` when the terminal's output ends (the run is over), `gone` when the
 * client went first (closed or half-closed its connection).
 */
export function bridge(terminal: TerminalAttachment, socket: Duplex, early: Buffer): Promise<'ended' | 'gone'> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      // the client went while the container was made: nobody to bridge
      terminal.close();
      resolve('gone');
      return;
    }
    const decoder = new FrameDecoder();
    const fromClient = (chunk: Buffer): void => {
      try {
        for (const frame of decoder.push(chunk)) {
          // typed input the process does not read waits in the shim, not here: the client is
          // read again once the terminal took what it had
          if (frame.type === FRAME_DATA) {
            if (!terminal.input.write(frame.payload)) {
              socket.pause();
              terminal.input.once('drain', () => socket.resume());
            }
          } else if (frame.type === FRAME_RESIZE && frame.payload.length === 4) {
            const size = { rows: frame.payload.readUInt16BE(0), cols: frame.payload.readUInt16BE(2) };
            if (!isConsoleSize(size)) throw new RangeError('a resize to 0 rows or columns');
            terminal.resize(size);
          } else throw new RangeError(`a frame of type ${JSON.stringify(frame.type)}`);
        }
      } catch {
        socket.destroy();
      }
    };
    const toClient = (chunk: Buffer): void => {
      if (socket.destroyed) return;
      socket.write(dataFrames(chunk));
      // a client that does not read is dropped, as the shim drops its own slow clients: the
      // api never holds a run's output without bound
      if (socket.writableLength > OUTPUT_BUFFER_MAX) socket.destroy();
    };
    terminal.output.on('data', toClient);
    terminal.output.once('close', () => resolve('ended'));
    socket.on('data', fromClient);
    // a client that closes its side is gone (an upgraded socket of the http server is half-open
    // after the peer's FIN: waiting for more would keep a container no one can see)
    socket.once('end', () => socket.destroy());
    socket.once('close', () => {
      terminal.close();
      resolve('gone');
    });
    if (early.length) fromClient(early);
    socket.resume();
  });
}
