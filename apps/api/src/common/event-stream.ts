import type { ServerResponse } from 'node:http';

/** How often an idle stream gets a comment line, so proxies and clients keep it open. */
const KEEP_ALIVE_MS = 15_000;

/**
 * A Server-Sent Events answer written straight to the response (Nest's @Sse wants
 * Observables and JSON-encodes every event; build logs send lines as they are). `signal`
 * aborts when the client goes away, which stops whatever feeds the stream.
 */
export class EventStream {
  private readonly controller = new AbortController();
  private readonly keepAlive: NodeJS.Timeout;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    this.keepAlive = setInterval(() => res.destroyed || res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    res.once('close', () => {
      clearInterval(this.keepAlive);
      this.controller.abort();
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** One event; a multi-line payload becomes several `data:` lines, as SSE joins them back. */
  send(data: string, options: { event?: string; id?: string } = {}): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    let frame = '';
    if (options.id !== undefined) frame += `id: ${options.id}\n`;
    if (options.event !== undefined) frame += `event: ${options.event}\n`;
    for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
    this.res.write(`${frame}\n`);
  }

  end(): void {
    clearInterval(this.keepAlive);
    if (!this.res.writableEnded) this.res.end();
  }
}
