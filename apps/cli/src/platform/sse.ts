/**
 * Server-Sent Events, parsed as the WHATWG spec says: lines end with CRLF, LF or CR; `data`
 * fields of one event are joined with LF; a blank line dispatches; `:` lines are comments;
 * an event with no data is not dispatched.
 */
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** `message` unless the server named it (`event: end`). */
  readonly event: string;
  readonly data: string;
  /** The last event id seen (carried over between events, as EventSource does). */
  readonly id: string;
}

/** An incremental parser: feed it chunks as they come, take the events it completed. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private hasData = false;
  private lastId = '';
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;

  feed(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      if (!match) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) {
        this.pendingCr = true;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** The stream ended: an event without its blank line is dropped, as the spec says. */
  end(): void {
    this.buffer = '';
    this.reset();
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default: // `retry` and unknown fields: nothing for a CLI to do
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const event = this.hasData
      ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId }
      : undefined;
    this.reset();
    return event;
  }

  private reset(): void {
    this.event = '';
    this.data = [];
    this.hasData = false;
  }
}

/** The events of a byte stream (an HTTP response body), in order. */
export async function* sseEvents(body: AsyncIterable<Buffer | string>): AsyncGenerator<SseEvent> {
  const decoder = new StringDecoder('utf8');
  const parser = new SseParser();
  for await (const chunk of body) {
    yield* parser.feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  }
  yield* parser.feed(decoder.end());
  parser.end();
}
