/**
 * Access log: one JSON object per line on stdout. Lines are gathered into writes of at most
 * 4 KiB of whole lines, so that the workers sharing one stdout pipe never interleave inside a
 * line (pipe writes up to PIPE_BUF are atomic). A batch is written when the next line would
 * not fit, or FLUSH_MS after its first line: under load that is one write per 4 KiB (about
 * fifteen requests) instead of one per event-loop turn, and a quiet router's lines still
 * leave within FLUSH_MS. `flush()` writes what is gathered now (on shutdown).
 */
export interface AccessEntry {
  readonly time: string;
  readonly requestId: string;
  readonly app: string | null;
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly backend: string | null;
  readonly durationMs: number;
  readonly bytes: number;
  readonly remote: string;
  readonly attempts?: number;
  readonly error?: string;
}

export const BATCH_MAX = 4096;
export const FLUSH_MS = 50;

export class AccessLog {
  private buffer = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly flushLater = (): void => {
    this.timer = undefined;
    this.flush();
  };

  constructor(
    private readonly write: (chunk: string) => void = (chunk) => void process.stdout.write(chunk),
    private readonly flushMs = FLUSH_MS,
  ) {}

  log(entry: AccessEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.buffer.length + line.length > BATCH_MAX) this.flush();
    this.buffer += line;
    // Unref'd: a batch waiting for its timer never keeps a stopping worker alive (close() flushes).
    this.timer ??= setTimeout(this.flushLater, this.flushMs).unref();
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    this.write(chunk);
  }
}
