/**
 * A streaming tar reader: entries one at a time, bodies streamed in the chunks the source
 * delivers (never a whole file in memory, never an allocation sized by a header). Every
 * byte read is reported to `onBytes` so that the caller can compute the diff id of the
 * uncompressed stream, including whatever follows the end-of-archive marker.
 */
import { LayerError } from './errors';
import { decodeName } from './names';
import {
  BLOCK,
  decodeHeader,
  decodePax,
  isZeroBlock,
  MAX_META_SIZE,
  padding,
  type PaxRecords,
  type RawHeader,
  type TarHeader,
} from './tar-format';

export interface TarEntry {
  readonly header: TarHeader;
  /** Offset of the entry's first header block (its pax header, if any). */
  readonly offset: number;
  /** The body, in source-sized chunks. Read it at most once, before asking for the next entry. */
  body(): AsyncGenerator<Buffer, void, undefined>;
}

const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

export class TarReader {
  private readonly source: AsyncIterator<Buffer>;
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;
  /** Absolute offset of chunk[pos]. */
  private offset = 0;
  /** Body bytes of the current entry not yet read, and its padding. */
  private bodyLeft = 0;
  private padLeft = 0;
  private current: { name: string; offset: number } | null = null;

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly onBytes: (chunk: Buffer) => void = () => undefined,
  ) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  async *entries(): AsyncGenerator<TarEntry, void, undefined> {
    for (;;) {
      await this.skipBody();
      const entry = await this.nextEntry();
      if (!entry) return;
      yield entry;
    }
  }

  /** Reads (and reports) whatever follows the end-of-archive marker. */
  async drain(): Promise<void> {
    await this.skipBody();
    while (await this.more()) {
      this.offset += this.chunk.length - this.pos;
      this.pos = this.chunk.length;
    }
  }

  /** Stops reading early (after an error): releases the source. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.source.return?.();
  }

  private async nextEntry(): Promise<TarEntry | null> {
    const start = this.offset;
    let pax: PaxRecords | null = null;
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      const at = this.offset;
      const block = await this.readBlock(start);
      if (block === null) return null; // clean end of stream between entries
      if (isZeroBlock(block)) {
        const second = await this.readBlock(start);
        if (second !== null && !isZeroBlock(second)) {
          throw new LayerError('MALFORMED', 'invalid tar: a lone zero block before more entries', { offset: at });
        }
        return null;
      }
      const raw = decodeHeader(block, at);
      if (
        raw.kind === 'pax' ||
        raw.kind === 'pax-global' ||
        raw.kind === 'gnu-longname' ||
        raw.kind === 'gnu-longlink'
      ) {
        const body = await this.readMeta(raw, at);
        if (raw.kind === 'pax') pax = decodePax(body, at);
        else if (raw.kind === 'gnu-longname') longName = metaString(body);
        else if (raw.kind === 'gnu-longlink') longLink = metaString(body);
        // Global pax headers are ignored, as Docker and containerd do: they carry comments
        // (git archive's commit id), nothing that describes the files.
        continue;
      }
      const header = resolveHeader(raw, pax, longName, longLink);
      this.current = { name: header.name, offset: start };
      this.bodyLeft = header.size;
      this.padLeft = padding(header.size);
      return { header, offset: start, body: () => this.body() };
    }
  }

  private async *body(): AsyncGenerator<Buffer, void, undefined> {
    while (this.bodyLeft > 0) {
      if (this.pos === this.chunk.length && !(await this.more())) throw this.truncated('the file body is incomplete');
      const n = Math.min(this.bodyLeft, this.chunk.length - this.pos);
      const piece = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      this.bodyLeft -= n;
      yield piece;
    }
  }

  private async skipBody(): Promise<void> {
    for (;;) {
      const left = this.bodyLeft + this.padLeft;
      if (left === 0) return;
      if (this.pos === this.chunk.length && !(await this.more())) throw this.truncated('the file body is incomplete');
      const n = Math.min(left, this.chunk.length - this.pos);
      this.pos += n;
      this.offset += n;
      const fromBody = Math.min(n, this.bodyLeft);
      this.bodyLeft -= fromBody;
      this.padLeft -= n - fromBody;
    }
  }

  /** A meta header's body (pax, GNU long name): bounded, because it is held in memory. */
  private async readMeta(raw: RawHeader, at: number): Promise<Buffer> {
    if (raw.size > MAX_META_SIZE) {
      throw new LayerError('MALFORMED', `${raw.kind} header of ${raw.size} bytes is larger than ${MAX_META_SIZE}`, {
        offset: at,
      });
    }
    const body = Buffer.alloc(raw.size);
    let filled = 0;
    while (filled < raw.size) {
      if (this.pos === this.chunk.length && !(await this.more())) {
        throw new LayerError('TRUNCATED', `${raw.kind} header body is incomplete`, { offset: at });
      }
      const n = Math.min(raw.size - filled, this.chunk.length - this.pos);
      this.chunk.copy(body, filled, this.pos, this.pos + n);
      filled += n;
      this.pos += n;
      this.offset += n;
    }
    this.current = { name: raw.name, offset: at };
    this.bodyLeft = 0;
    this.padLeft = padding(raw.size);
    await this.skipBody();
    this.current = null;
    return body;
  }

  /** The next 512-byte block, or null at a clean end of stream. */
  private async readBlock(entryOffset: number): Promise<Buffer | null> {
    if (this.chunk.length - this.pos >= BLOCK) {
      const block = this.chunk.subarray(this.pos, this.pos + BLOCK);
      this.pos += BLOCK;
      this.offset += BLOCK;
      return block;
    }
    const block = Buffer.alloc(BLOCK);
    let filled = 0;
    while (filled < BLOCK) {
      if (this.pos === this.chunk.length && !(await this.more())) {
        if (filled === 0) return null;
        throw new LayerError('TRUNCATED', `the stream ends inside a header (${filled} of ${BLOCK} bytes)`, {
          offset: entryOffset,
        });
      }
      const n = Math.min(BLOCK - filled, this.chunk.length - this.pos);
      this.chunk.copy(block, filled, this.pos, this.pos + n);
      filled += n;
      this.pos += n;
      this.offset += n;
    }
    return block;
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = next.value;
    this.onBytes(chunk);
    this.chunk = chunk;
    this.pos = 0;
    return true;
  }

  private truncated(reason: string): LayerError {
    return new LayerError('TRUNCATED', reason, this.current ?? { offset: this.offset });
  }
}

function metaString(body: Buffer): string {
  const nul = body.indexOf(0);
  return decodeName(nul === -1 ? body : body.subarray(0, nul));
}

function resolveHeader(
  raw: RawHeader,
  pax: PaxRecords | null,
  longName: string | null,
  longLink: string | null,
): TarHeader {
  return {
    name: pax?.path || longName || raw.name,
    type: raw.kind as TarHeader['type'],
    mode: raw.mode,
    uid: pax?.uid ?? raw.uid,
    gid: pax?.gid ?? raw.gid,
    size: pax?.size ?? raw.size,
    mtime: pax?.mtime ?? raw.mtime,
    linkname: pax?.linkpath || longLink || raw.linkname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs: pax && pax.xattrs.size > 0 ? pax.xattrs : NO_XATTRS,
  };
}
