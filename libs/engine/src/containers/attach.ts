/**
 * A container's terminal (`run -t`): the shim holds the pty master and serves
 * `STATE/attach.sock` (native/runtime/src/shim/README.md, "Terminal"). From the shim comes the
 * terminal's output, raw; to it go frames: 1 type byte, a big-endian u16 payload length, the
 * payload (at most 4096 bytes). `d` is typed input, `w` a resize (rows, then columns, u16 each).
 * The one home of that framing in TypeScript: the CLI speaks it to the shim, and the api speaks
 * it to its clients (plus an exit frame of its own).
 */
import { connect, type Socket } from 'node:net';
import { type Readable, Writable } from 'node:stream';

export const FRAME_DATA = 'd';
export const FRAME_RESIZE = 'w';
/** The api's last frame to a one-off's client: the command's exit status, as decimal digits. */
export const FRAME_EXIT = 'x';
/** The HTTP Upgrade a one-off run's terminal speaks these frames over (docs/api.md). */
export const TTY_PROTOCOL = 'paas-tty/1';
/** The largest payload a frame carries (the shim disconnects a client that sends more). */
export const FRAME_MAX_PAYLOAD = 4096;
const HEADER = 3;

/** A terminal's size in character cells, as TIOCSWINSZ takes it. */
export interface ConsoleSize {
  readonly rows: number;
  readonly cols: number;
}

/** Whether rows and columns fit a resize frame (integers 1..65535). */
export function isConsoleSize(size: Partial<ConsoleSize>): size is ConsoleSize {
  const fits = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 0xffff;
  return fits(size.rows) && fits(size.cols);
}

/** One frame; the payload must fit (callers split data with `dataFrames`). */
export function encodeFrame(type: string, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (type.length !== 1) throw new RangeError(`frame type ${JSON.stringify(type)}: one character`);
  if (payload.length > FRAME_MAX_PAYLOAD)
    throw new RangeError(`frame payload of ${payload.length} bytes: at most ${FRAME_MAX_PAYLOAD}`);
  const frame = Buffer.alloc(HEADER + payload.length);
  frame.write(type, 0, 'latin1');
  frame.writeUInt16BE(payload.length, 1);
  frame.set(payload, HEADER);
  return frame;
}

/** Typed input as `d` frames of at most FRAME_MAX_PAYLOAD bytes each. */
export function dataFrames(data: Uint8Array): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += FRAME_MAX_PAYLOAD)
    frames.push(encodeFrame(FRAME_DATA, data.subarray(at, at + FRAME_MAX_PAYLOAD)));
  return Buffer.concat(frames);
}

export function exitFrame(code: number): Buffer {
  return encodeFrame(FRAME_EXIT, Buffer.from(String(code)));
}

export function resizeFrame(size: ConsoleSize): Buffer {
  const { rows, cols } = size;
  if (!isConsoleSize(size)) throw new RangeError(`terminal size ${rows}x${cols}: rows and columns from 1 to 65535`);
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(rows, 0);
  payload.writeUInt16BE(cols, 2);
  return encodeFrame(FRAME_RESIZE, payload);
}

export interface Frame {
  readonly type: string;
  readonly payload: Buffer;
}

/**
 * Frames out of a byte stream, as they come in pieces. A payload longer than FRAME_MAX_PAYLOAD
 * is an error (the stream is not speaking the protocol); types are the caller's to check.
 */
export class FrameDecoder {
  private pending = Buffer.alloc(0);

  push(chunk: Uint8Array): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER) {
      const length = this.pending.readUInt16BE(1);
      if (length > FRAME_MAX_PAYLOAD)
        throw new RangeError(`frame payload of ${length} bytes: at most ${FRAME_MAX_PAYLOAD}`);
      if (this.pending.length < HEADER + length) break;
      frames.push({
        type: this.pending.toString('latin1', 0, 1),
        payload: Buffer.from(this.pending.subarray(HEADER, HEADER + length)),
      });
      this.pending = this.pending.subarray(HEADER + length);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still held. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** A client of a container's terminal. */
export interface TerminalAttachment {
  /** What the terminal shows, raw bytes; ends when the container's run ends (or `close`). */
  readonly output: Readable;
  /** Typing: each chunk written becomes `d` frames (in order with `resize`). */
  readonly input: Writable;
  /** A resize (the kernel sends SIGWINCH to the terminal's foreground process group). */
  resize(size: ConsoleSize): void;
  /** Stops sending (typing is over) while the output still comes. */
  endInput(): void;
  /** Disconnects; the container runs on. */
  close(): void;
}

/** Connects to a shim's attach socket; rejects with the socket's error (ENOENT, ECONNREFUSED). */
export function connectTerminal(socketPath: string): Promise<TerminalAttachment> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(attachment(socket));
    });
  });
}

function attachment(socket: Socket): TerminalAttachment {
  // a write after the shim closed the connection (the run ended) is no one's error
  socket.on('error', () => socket.destroy());
  const input = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (socket.destroyed || socket.writableEnded) return callback();
      socket.write(dataFrames(chunk), () => callback());
    },
    final(callback) {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
      callback();
    },
  });
  input.on('error', () => undefined);
  return {
    output: socket,
    input,
    resize(size) {
      if (!socket.destroyed && !socket.writableEnded) socket.write(resizeFrame(size));
    },
    endInput() {
      input.end();
    },
    close() {
      input.destroy();
      socket.destroy();
    },
  };
}
