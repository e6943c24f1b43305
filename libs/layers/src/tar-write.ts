/**
 * A streaming tar writer. Headers and small bodies are gathered into one staging buffer so
 * that the compressor sees few large writes instead of one per 512-byte block (thousands
 * of small files are the common case in a layer); large bodies pass through without a copy.
 */
import { LayerError } from './errors';
import { BLOCK, encodeHeader, padding, type TarHeader } from './tar-format';

/** Receives the archive in order; a returned promise is awaited (backpressure). */
export type TarSink = (chunk: Buffer) => void | Promise<void>;

const STAGING = 256 * 1024;
const ZEROS = Buffer.alloc(2 * BLOCK);

export class TarWriter {
  private staging = Buffer.allocUnsafe(STAGING);
  private used = 0;
  private written = 0;

  constructor(private readonly sink: TarSink) {}

  /** Bytes of tar produced so far. */
  get size(): number {
    return this.written + this.used;
  }

  /**
   * Appends one entry. `body` must deliver exactly `header.size` bytes: a file that grew or
   * shrank while it was read would make every later header land in the wrong place.
   */
  async add(header: TarHeader, body?: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<void> {
    await this.push(encodeHeader(header));
    let count = 0;
    if (body) {
      for await (const chunk of body) {
        count += chunk.length;
        if (count > header.size) break;
        await this.push(chunk);
      }
    }
    if (count !== header.size) {
      throw new LayerError('IO', `file changed while it was archived: expected ${header.size} bytes, read ${count}`, {
        entry: header.name,
      });
    }
    const pad = padding(header.size);
    if (pad > 0) await this.push(ZEROS.subarray(0, pad));
  }

  /** Writes the end-of-archive marker (two zero blocks) and flushes. */
  async finish(): Promise<void> {
    await this.push(ZEROS);
    await this.flush();
  }

  private async push(chunk: Buffer): Promise<void> {
    const direct = chunk.length >= STAGING / 2;
    if (direct || this.used + chunk.length > STAGING) await this.flush();
    if (direct) {
      this.written += chunk.length;
      await this.sink(chunk);
      return;
    }
    chunk.copy(this.staging, this.used);
    this.used += chunk.length;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const out = this.staging.subarray(0, this.used);
    // The sink may hold on to the chunk (a compressor queues it), so it is never reused.
    this.staging = Buffer.allocUnsafe(STAGING);
    this.written += this.used;
    this.used = 0;
    await this.sink(out);
  }
}
