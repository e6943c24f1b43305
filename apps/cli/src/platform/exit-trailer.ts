/**
 * The output of a one-off run ends with the remote exit status on a last line of its own:
 * `paas-exit-status: <code>` (docs/api.md; the older spelling `\0exit:<code>` is accepted too).
 * This splitter passes the output through as it comes and holds back only a tail that may
 * still turn out to be that trailer, so nothing is delayed by more than a partial line.
 */

const TRAILERS = ['paas-exit-status: ', '\0exit:'] as const;
const COMPLETE = /^(?:paas-exit-status: ?|\0exit:)(\d{1,3})\r?\n?$/;

export class ExitTrailerSplitter {
  private held = Buffer.alloc(0);
  /** Whether `held` starts at the beginning of a line of the output. */
  private atLineStart = true;

  /** The bytes of `chunk` (after what was held) that are certainly output. */
  push(chunk: Buffer): Buffer {
    const data = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const start = this.candidateStart(data);
    if (start < 0) {
      this.held = Buffer.alloc(0);
      this.atLineStart = data.length === 0 ? this.atLineStart : data[data.length - 1] === 0x0a;
      return data;
    }
    this.held = Buffer.from(data.subarray(start));
    this.atLineStart = start === 0 ? this.atLineStart : true;
    return data.subarray(0, start);
  }

  /**
   * The stream ended: the exit status, or undefined when the output did not end with a
   * trailer (the connection broke), in which case `rest` is output that was held back.
   */
  end(): { code: number | undefined; rest: Buffer } {
    const text = this.held.toString('latin1');
    const match = COMPLETE.exec(text);
    if (match && (this.atLineStart || text.startsWith('\0'))) return { code: Number(match[1]), rest: Buffer.alloc(0) };
    return { code: undefined, rest: this.held };
  }

  /** Where a possible trailer starts in `data`: a line start whose rest could be one. */
  private candidateStart(data: Buffer): number {
    const text = data.toString('latin1');
    // The NUL form may follow output that did not end with a newline.
    const nul = text.lastIndexOf('\0');
    if (nul >= 0 && couldBeTrailer(text.slice(nul))) return nul;
    const lastNl = text.lastIndexOf('\n', text.endsWith('\n') ? text.length - 2 : text.length - 1);
    const lineStart = lastNl + 1;
    if (lineStart === 0 && !this.atLineStart) return -1;
    return couldBeTrailer(text.slice(lineStart)) ? lineStart : -1;
  }
}

/** `tail` is a trailer, complete or not yet. */
function couldBeTrailer(tail: string): boolean {
  if (tail === '') return false;
  if (COMPLETE.test(tail)) return true;
  return TRAILERS.some((t) =>
    tail.length <= t.length ? t.startsWith(tail) : tail.startsWith(t) && /^\d{0,3}\r?$/.test(tail.slice(t.length)),
  );
}
