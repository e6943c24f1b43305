/**
 * Server-Sent Events read with fetch: EventSource cannot send an Authorization header, and
 * the api's streams (build logs, app logs) need one. The parser follows the HTML standard's
 * event-stream interpretation: lines end in CR, LF or CRLF; `data` lines join with LF; an
 * empty line dispatches; `:` lines are comments; an event without data is not dispatched.
 */
import { errorFrom, storedToken } from './api';

export interface SseMessage {
  /** `message` unless the stream named it (`event: end`). */
  readonly event: string;
  readonly data: string;
  /** The last `id:` seen (it carries over to later events, as in EventSource). */
  readonly id: string | null;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | null = null;
  /** A chunk ended in CR: an LF starting the next chunk belongs to that line end. */
  private skipLf = false;

  /** Feeds decoded text; answers the events it completed. */
  push(text: string): SseMessage[] {
    const out: SseMessage[] = [];
    let input = text;
    if (this.skipLf && input.startsWith('\n')) input = input.slice(1);
    this.skipLf = false;
    this.buffer += input;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // a CR at the very end may be the first half of a CRLF split across chunks
      if (match[0] === '\r' && match.index === this.buffer.length - 1) this.skipLf = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      const message =
        this.data.length > 0 ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId } : null;
      this.data = [];
      this.event = '';
      return message;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }
}

export interface StreamOptions {
  readonly signal: AbortSignal;
  readonly onMessage: (message: SseMessage) => void;
  /** Called once the answer's headers came back 2xx. */
  readonly onOpen?: () => void;
}

/**
 * Reads one event stream until the server ends it (resolves) or it fails (rejects with the
 * api's error for a non-2xx answer). Aborting the signal resolves quietly.
 */
export async function readEventStream(url: string, options: StreamOptions): Promise<void> {
  const token = storedToken();
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: options.signal, cache: 'no-store' });
  } catch (err) {
    if (options.signal.aborted) return;
    throw err;
  }
  if (!res.ok) throw await errorFrom(res);
  if (!res.body) throw new Error('the stream has no body');
  options.onOpen?.();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) options.onMessage(message);
    }
    for (const message of parser.push(decoder.decode())) options.onMessage(message);
  } catch (err) {
    if (options.signal.aborted) return;
    throw err;
  } finally {
    reader.releaseLock();
  }
}
