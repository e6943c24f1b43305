/**
 * What the agent once did with Redis, through the api (docs/security.md: nodes hold no Redis
 * credentials): instances' output goes to their apps' logs in batches (`BatchingAppLog`), and
 * the control plane's nudges arrive on the node's event stream (`StreamNudges`).
 *
 * BatchingAppLog: `append` only buffers. A batch leaves after `flushMs`, or at once when
 * `batchLines` are waiting, one batch at a time so each instance's lines stay in order. While
 * the api does not take them the buffer keeps at most `maxBuffered` lines, dropping the
 * oldest and counting the drops of each instance; the next batch then starts with one line
 * per such instance saying how many were dropped. A batch the api refuses (400, 403, 413) is
 * dropped and said once in the agent's log: sending it again would be refused again.
 *
 * StreamNudges: keeps `GET /api/nodes/:name/events` open, reconnecting with back-off. Every
 * (re)opened stream nudges too, since what was published while it was closed is lost; the
 * agent's own heartbeat period bounds how late a lost nudge can make anything.
 */
import { NODE_LOG_MAX_BYTES, NODE_LOG_MAX_LINES, type NodeLogLine, backoffDelay, fitLogLine } from '@paas/platform';
import { ControlPlaneError } from './api-client';
import type { AppLog, Clock, LogIntake, LogSource, NodeEventStream, Nudges } from './roles';

export interface BatchingOptions {
  /** How long a line may wait for others before its batch leaves (ms). */
  readonly flushMs?: number;
  /** A batch leaves at once when this many lines wait (at most NODE_LOG_MAX_LINES). */
  readonly batchLines?: number;
  /** Lines kept while the api does not take them; beyond, the oldest are dropped. */
  readonly maxBuffered?: number;
  /** The longest wait before sending again after a failure (ms). */
  readonly maxBackoffMs?: number;
}

/** Did the api refuse the batch itself (sending it again cannot help)? */
function refused(err: unknown): boolean {
  return err instanceof ControlPlaneError && [400, 403, 404, 413].includes(err.status);
}

export class BatchingAppLog implements AppLog {
  private readonly flushMs: number;
  private readonly batchLines: number;
  private readonly maxBuffered: number;
  private readonly maxBackoffMs: number;
  private buffer: NodeLogLine[] = [];
  /** Lines dropped per instance id since the last batch that said so. */
  private readonly dropped = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  /** A batch is on its way: the next is planned when it is answered. */
  private busy = false;
  private sending: Promise<boolean> | undefined;
  private failures = 0;
  private lastProblem = '';
  private closed = false;

  constructor(
    private readonly api: LogIntake,
    private readonly node: string,
    private readonly clock: Clock,
    private readonly log: (line: string) => void,
    options: BatchingOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 150;
    this.batchLines = Math.min(options.batchLines ?? 500, NODE_LOG_MAX_LINES);
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
  }

  append(source: LogSource, line: string): void {
    this.buffer.push({ instance: source.id, line: fitLogLine(line) });
    this.bound();
    if (this.busy) return; // the batch in flight plans the next
    if (this.buffer.length >= this.batchLines) this.flushSoon(0);
    else this.flushSoon(this.flushMs);
  }

  /** Lines waiting, dropped ones not counted (for the specs and the status). */
  get waiting(): number {
    return this.buffer.length;
  }

  /** Sends what waits (the agent is stopping) until a batch fails; what is left then is lost. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    await this.sending;
    while (this.buffer.length > 0 || this.dropped.size > 0) if (!(await this.send())) return;
  }

  private bound(): void {
    const over = this.buffer.length - this.maxBuffered;
    if (over <= 0) return;
    for (const { instance } of this.buffer.splice(0, over)) {
      this.dropped.set(instance, (this.dropped.get(instance) ?? 0) + 1);
    }
  }

  private flushSoon(ms: number): void {
    if (this.closed) return;
    if (ms === 0) {
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      this.sending = this.send();
      return;
    }
    this.cancelTimer ??= this.clock.after(ms, () => {
      this.cancelTimer = undefined;
      this.sending = this.send();
    });
  }

  /** One batch: the drop notices first, then the oldest lines, within the limits of a batch. */
  private take(): { batch: NodeLogLine[]; notices: Map<string, number> } {
    const batch: NodeLogLine[] = [];
    let bytes = 0;
    const notices = new Map(this.dropped);
    for (const [instance, count] of notices) {
      batch.push({ instance, line: `[paas] ${count} lines dropped: the control plane did not take them in time` });
    }
    this.dropped.clear();
    while (this.buffer.length > 0 && batch.length < this.batchLines) {
      const next = this.buffer[0] as NodeLogLine;
      const size = Buffer.byteLength(next.line);
      if (batch.length > 0 && bytes + size > NODE_LOG_MAX_BYTES) break;
      bytes += size;
      batch.push(next);
      this.buffer.shift();
    }
    return { batch, notices };
  }

  /** Sends one batch and plans the next; false when the api did not take it. */
  private async send(): Promise<boolean> {
    this.busy = true;
    const { batch, notices } = this.take();
    let retryIn: number | null = null;
    if (batch.length > 0) {
      try {
        await this.api.sendLogs(this.node, { lines: batch });
        if (this.failures > 0) this.log('instance output reaches the control plane again');
        this.failures = 0;
        this.lastProblem = '';
      } catch (err) {
        const message = (err as Error).message;
        if (refused(err)) {
          this.say(`instance output: a batch of ${batch.length} lines was refused and dropped: ${message}`);
        } else {
          // older than everything waiting: back at the front (the notices as counts again),
          // then the bound applies again
          this.buffer = [...batch.slice(notices.size), ...this.buffer];
          for (const [instance, count] of notices) {
            this.dropped.set(instance, (this.dropped.get(instance) ?? 0) + count);
          }
          this.bound();
          this.failures++;
          // jittered: the nodes of an api that was down do not all come back in step
          retryIn = backoffDelay(this.failures, { firstMs: this.flushMs * 2, capMs: this.maxBackoffMs });
          this.say(`instance output waits (${this.buffer.length} lines): ${message}`);
        }
      }
    }
    this.busy = false;
    if (this.closed) return retryIn === null;
    if (retryIn !== null) this.flushSoon(retryIn);
    else if (this.buffer.length >= this.batchLines) this.flushSoon(0);
    else if (this.buffer.length > 0 || this.dropped.size > 0) this.flushSoon(this.flushMs);
    return retryIn === null;
  }

  private say(line: string): void {
    const problem = line.replace(/\(\d+ lines\)/, '');
    if (problem !== this.lastProblem) this.log(line);
    this.lastProblem = problem;
  }
}

export class StreamNudges implements Nudges {
  constructor(
    private readonly api: NodeEventStream,
    private readonly node: string,
    private readonly clock: Clock,
    private readonly log: (line: string) => void,
    private readonly maxBackoffMs = 5000,
  ) {}

  listen(onNudge: () => void): () => void {
    const stop = new AbortController();
    void this.follow(onNudge, stop.signal);
    return () => stop.abort();
  }

  private async follow(onNudge: () => void, signal: AbortSignal): Promise<void> {
    let failures = 0;
    let lastProblem = '';
    while (!signal.aborted) {
      try {
        for await (const event of this.api.events(this.node, signal)) {
          if (event === 'ready') {
            if (lastProblem) this.log('the event stream of the control plane is open again');
            lastProblem = '';
            failures = 0;
          }
          // `ready`: what was published while the stream was closed is lost; ask now
          onNudge();
        }
        if (signal.aborted) return;
        throw new Error('the control plane ended the event stream');
      } catch (err) {
        if (signal.aborted) return;
        const message = (err as Error).message;
        if (message !== lastProblem) this.log(`event stream (heartbeats only meanwhile): ${message}`);
        lastProblem = message;
        failures++;
        await this.clock.sleep(backoffDelay(failures, { firstMs: 250, capMs: this.maxBackoffMs }), signal);
      }
    }
  }
}
