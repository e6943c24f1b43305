/**
 * Access log: one JSON object per line on stdout. Lines are batched per event-loop turn into
 * writes of at most 4 KiB of whole lines, so that the workers sharing one stdout pipe never
 * interleave inside a line (pipe writes up to PIPE_BUF are atomic).
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

const BATCH_MAX = 4096;

export class AccessLog {
  private buffer = '';
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly write: (chunk: string) => void = (chunk) => void process.stdout.write(chunk)) {}

  log(entry: AccessEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.buffer.length + line.length > BATCH_MAX) this.flush();
    this.buffer += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  flush(): void {
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    this.write(chunk);
  }
}
