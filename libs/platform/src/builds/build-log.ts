/**
 * A build's output as a Heroku user reads it: `-----> ` headlines, details indented by seven
 * spaces, ` !     ` for errors. Every line goes to the build's Redis stream as it is written
 * (the pusher's `remote:` lines and the api's SSE followers read it live) and is kept in
 * memory for `Build.output`. One writer sends the lines in order.
 *
 * The output is a tenant's (a RUN step may print gigabytes, or one endless line), and the
 * log lives in the api's process: a line is cut every BUILD_LINE_MAX characters (Docker's log
 * drivers split at 16 KiB too), and when Redis cannot keep up, lines beyond a backlog of
 * BUILD_LOG_BACKLOG are counted and dropped, with one notice saying how many, instead of
 * queueing without bound. Past BUILD_STREAM_MAX characters of a process's output, no more of
 * it is streamed (Redis holds a build's stream for an hour: one build must not fill it).
 */
import { StringDecoder } from 'node:string_decoder';
import type { Redis } from 'ioredis';
import { appendLog, BUILD_LOG_MAX, endLog } from '../logs';

/** What `Build.output` keeps at most; the stream had every line anyway. */
export const BUILD_OUTPUT_MAX = 1024 * 1024;

/** Lines waiting for Redis at most; more are dropped and counted. */
const BUILD_LOG_BACKLOG = 10_000;

/** A process's output streamed per build at most; the rest is counted, not kept. */
const BUILD_STREAM_MAX = 32 * 1024 * 1024;

/** A longer line is cut into lines of this many characters. */
export const BUILD_LINE_MAX = 16 * 1024;

const INDENT = '       ';

/** A process's line, indented, fits in BUILD_LINE_MAX. */
const RAW_LINE_MAX = BUILD_LINE_MAX - INDENT.length;

export class BuildLog {
  private queue: string[] = [];
  private dropped = 0;
  private streamed = 0;
  private overLimit = 0;
  private writer: Promise<void> | undefined;
  private failure: unknown;
  private text = '';
  private truncated = false;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly maxOutput = BUILD_OUTPUT_MAX,
    private readonly backlog = BUILD_LOG_BACKLOG,
    private readonly streamMax = BUILD_STREAM_MAX,
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

  /** Queues a line; a process's (`raw`) may be dropped under a flood, the platform's never are. */
  private write(text: string, raw = false): void {
    if (text.length > BUILD_LINE_MAX) {
      for (let at = 0; at < text.length; at += BUILD_LINE_MAX) this.write(text.slice(at, at + BUILD_LINE_MAX), raw);
      return;
    }
    if (!this.truncated) {
      if (this.text.length + text.length + 1 > this.maxOutput) {
        this.truncated = true;
        this.text += `[output truncated at ${this.maxOutput} bytes; the rest was only streamed]\n`;
      } else this.text += `${text}\n`;
    }
    if (raw && (this.streamed += text.length + 1) > this.streamMax) {
      if (this.overLimit++ === 0) {
        this.write(`[the build's output passed ${this.streamMax} bytes: the rest of it is not kept]`);
      }
      return;
    }
    if (raw && this.queue.length >= this.backlog) {
      this.dropped++;
      return;
    }
    this.queue.push(text);
    this.writer ??= this.send();
  }

  /** The one writer: sends queued lines in order until none is left. */
  private async send(): Promise<void> {
    try {
      for (;;) {
        const batch = this.queue;
        this.queue = [];
        if (this.dropped > 0) {
          batch.unshift(`[${this.dropped} lines dropped: the build wrote faster than its log is stored]`);
          this.dropped = 0;
        }
        if (batch.length === 0) return;
        for (const line of batch) {
          try {
            await appendLog(this.redis, this.key, 'build', line, BUILD_LOG_MAX);
          } catch (err) {
            this.failure ??= err;
          }
        }
      }
    } finally {
      this.writer = undefined;
    }
  }

  /** A process's own output as it comes (a RUN step, the release command): split into lines. */
  raw(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    let rest = lines.pop() ?? '';
    for (const line of lines) this.emitRaw(line);
    // a progress bar that never ends its line keeps only what is on screen; an endless line is cut
    if (rest.length > BUILD_LINE_MAX) rest = rest.replace(/\r+$/, '').split('\r').pop() ?? '';
    while (rest.length > RAW_LINE_MAX) {
      this.emitRaw(rest.slice(0, RAW_LINE_MAX));
      rest = rest.slice(RAW_LINE_MAX);
    }
    this.partial = rest;
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
    if (shown === '') this.write('', true);
    for (let at = 0; at < shown.length; at += RAW_LINE_MAX)
      this.write(`${INDENT}${shown.slice(at, at + RAW_LINE_MAX)}`, true);
  }

  /** Waits until every line is in Redis; throws the first write error. */
  async drain(): Promise<void> {
    this.flushRaw();
    while (this.writer) await this.writer;
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
