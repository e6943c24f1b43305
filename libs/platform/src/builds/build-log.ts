/**
 * A build's output as a Heroku user reads it: `-----> ` headlines, details indented by seven
 * spaces, ` !     ` for errors. Every line goes to the build's Redis stream as it is written
 * (the pusher's `remote:` lines and the api's SSE followers read it live) and is kept in
 * memory for `Build.output`. Writes to Redis are chained, so lines arrive in order.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Redis } from 'ioredis';
import { appendLog, BUILD_LOG_MAX, endLog } from '../logs';

/** What `Build.output` keeps at most; the stream had every line anyway. */
export const BUILD_OUTPUT_MAX = 1024 * 1024;

export const INDENT = '       ';

export class BuildLog {
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown;
  private text = '';
  private truncated = false;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly maxOutput = BUILD_OUTPUT_MAX,
  ) {}

  /** A headline: `-----> Building…`. */
  step(text: string): void {
    this.line(`-----> ${text}`);
  }

  /** Detail under a headline (several lines allowed). */
  info(text: string): void {
    for (const line of text.split('\n')) this.line(line === '' ? '' : `${INDENT}${line}`);
  }

  /** An error or warning, marked the way Heroku marks them. */
  error(text: string): void {
    for (const line of text.split('\n')) this.line(` !     ${line}`);
  }

  /** A line as it is; a process's unfinished raw line goes first. */
  line(text: string): void {
    this.flushRaw();
    this.write(text);
  }

  private write(text: string): void {
    if (!this.truncated) {
      if (this.text.length + text.length + 1 > this.maxOutput) {
        this.truncated = true;
        this.text += `[output truncated at ${this.maxOutput} bytes; the rest was only streamed]\n`;
      } else this.text += `${text}\n`;
    }
    this.pending = this.pending
      .then(() => appendLog(this.redis, this.key, 'build', text, BUILD_LOG_MAX))
      .catch((err: unknown) => {
        this.failure ??= err;
      });
  }

  /** A process's own output as it comes (a RUN step, the release command): split into lines. */
  raw(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.emitRaw(line);
  }

  /** Writes a raw line that has not ended yet (its process finished without a newline). */
  flushRaw(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.emitRaw(rest);
  }

  private emitRaw(line: string): void {
    // a progress bar redraws itself with \r: keep what was on screen last
    const shown = line.replace(/\r+$/, '').split('\r').pop() ?? '';
    this.write(shown === '' ? '' : `${INDENT}${shown}`);
  }

  /** Waits until every line is in Redis; throws the first write error. */
  async drain(): Promise<void> {
    this.flushRaw();
    await this.pending;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Marks the stream finished with the build's status; followers stop there. */
  async end(status: 'succeeded' | 'failed'): Promise<void> {
    await this.drain();
    await endLog(this.redis, this.key, status);
  }

  get output(): string {
    return this.text;
  }
}
