/**
 * git's pkt-line framing: four hex digits of length (the four included), then the payload;
 * `0000` is a flush, `0001` a delimiter, `0002` a response end. Used to speak the proc-receive
 * protocol with git receive-pack and to prefix the smart-HTTP ref advertisement.
 */
import type { Readable } from 'node:stream';
import { PaasError } from '@paas/errors';

export const FLUSH = Buffer.from('0000');
/** The largest pkt-line git writes or accepts (LARGE_PACKET_MAX). */
const MAX_PKT = 65520;

export function pkt(payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (data.length + 4 > MAX_PKT) throw new Error(`pkt-line payload of ${data.length} bytes is too long`);
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}

export type Pkt =
  | { readonly kind: 'data'; readonly payload: Buffer }
  | { readonly kind: 'flush' | 'delim' | 'end' }
  | { readonly kind: 'eof' };

export class PktLineError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

/** Reads pkt-lines from a stream as they arrive. */
export class PktLineReader {
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(stream: Readable) {
    const notify = (): void => {
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    stream.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      notify();
    });
    const end = (): void => {
      this.ended = true;
      notify();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', (err) => {
      this.failure = err;
      end();
    });
  }

  async read(): Promise<Pkt> {
    for (;;) {
      if (this.buffer.length >= 4) {
        const head = this.buffer.subarray(0, 4).toString('latin1');
        if (!/^[0-9a-f]{4}$/.test(head)) throw new PktLineError(`bad pkt-line length ${JSON.stringify(head)}`);
        const length = parseInt(head, 16);
        if (length < 4) {
          this.buffer = this.buffer.subarray(4);
          return { kind: length === 0 ? 'flush' : length === 1 ? 'delim' : 'end' };
        }
        if (this.buffer.length >= length) {
          const payload = this.buffer.subarray(4, length);
          this.buffer = this.buffer.subarray(length);
          return { kind: 'data', payload };
        }
      }
      if (this.failure) throw this.failure;
      if (this.ended) {
        if (this.buffer.length > 0) throw new PktLineError('stream ended inside a pkt-line');
        return { kind: 'eof' };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The text lines up to the next flush (newlines removed); undefined when the stream ends first. */
  async section(): Promise<string[] | undefined> {
    const lines: string[] = [];
    for (;;) {
      const next = await this.read();
      if (next.kind === 'eof') return undefined;
      if (next.kind === 'flush') return lines;
      if (next.kind === 'data') lines.push(next.payload.toString('utf8').replace(/\n$/, ''));
    }
  }
}
