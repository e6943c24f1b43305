/**
 * A Server-Sent Events client for specs: events as they arrive, awaited one by one, and the
 * connection closed by the spec (as a browser tab going away).
 */
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';

export interface ServerEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

export interface EventClient {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** The next event; rejects after `timeoutMs` or when the stream ends first. */
  next(timeoutMs?: number): Promise<ServerEvent>;
  /** Every event until the server ends the stream. */
  rest(timeoutMs?: number): Promise<ServerEvent[]>;
  close(): void;
}

export function openEvents(url: string, path: string, token: string): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = httpRequest(
      new URL(path, url),
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        const queue: ServerEvent[] = [];
        let ended = false;
        let wake: (() => void) | undefined;
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = { event: 'message', data: [] as string[], id: undefined as string | undefined };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const name = line.slice(0, colon);
              const value = line.slice(colon + 1).replace(/^ /, '');
              if (name === 'data') fields.data.push(value);
              else if (name === 'event') fields.event = value;
              else if (name === 'id') fields.id = value;
            }
            if (fields.data.length > 0)
              queue.push({
                event: fields.event,
                data: fields.data.join('\n'),
                ...(fields.id ? { id: fields.id } : {}),
              });
          }
          wake?.();
        });
        const finish = (): void => {
          ended = true;
          wake?.();
        };
        res.on('end', finish);
        res.on('close', finish);
        const next = async (timeoutMs = 5000): Promise<ServerEvent> => {
          const deadline = Date.now() + timeoutMs;
          while (queue.length === 0) {
            if (ended) throw new Error('the stream ended');
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
            await new Promise<void>((done) => {
              const timer = setTimeout(done, left);
              wake = () => {
                clearTimeout(timer);
                done();
              };
            });
          }
          return queue.shift() as ServerEvent;
        };
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          next,
          async rest(timeoutMs = 5000) {
            const all: ServerEvent[] = [];
            for (;;) {
              try {
                all.push(await next(timeoutMs));
              } catch (err) {
                if (ended && queue.length === 0) return all;
                throw err;
              }
            }
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
