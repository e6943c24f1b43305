/**
 * The agent's side of the protocol (libs/platform scheduling/protocol.ts): JSON over HTTP(S)
 * to the control plane with a bearer token. Errors say what the api answered. Over https the
 * api's certificate must chain to `ca` (the platform CA) or, without one, to Node's roots:
 * node:https rather than fetch, which takes no CA of its own on Node 20.
 *
 * Besides the protocol's calls, the two that replaced the agent's Redis: instance output in
 * batches (`sendLogs`) and the node's event stream (`events`, server-sent events; the api
 * writes a comment every 15 s, so a stream silent for EVENTS_IDLE_MS is dead and dropped).
 */
import http from 'node:http';
import https from 'node:https';
import { type TrustedCa, tlsFailureReason } from '@paas/config';
import type {
  HeartbeatReply,
  HeartbeatRequest,
  NodeLogAnswer,
  NodeLogBatch,
  RegisterAnswer,
  RegisterRequest,
} from '@paas/platform';
import { PaasError, codeForStatus } from '@paas/errors';

/** The control plane refused a request (its status) or did not answer (status 0). */
export class ControlPlaneError extends PaasError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(codeForStatus(status), message);
  }
}

/** A stream of events that says nothing this long (keep-alives included) is given up. */
const EVENTS_IDLE_MS = 45_000;

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => string,
    private readonly timeoutMs = 10_000,
    private readonly ca: TrustedCa | null = null,
  ) {}

  private async post<T>(path: string, body: unknown): Promise<T> {
    const { status, text } = await this.send(path, JSON.stringify(body));
    if (status < 200 || status >= 300) throw refusal(path, status, text);
    return JSON.parse(text) as T;
  }

  private request(
    url: URL,
    options: http.RequestOptions,
    answer: (res: http.IncomingMessage) => void,
  ): http.ClientRequest {
    return url.protocol === 'https:'
      ? https.request(url, { ...options, ...(this.ca ? { ca: this.ca.pem } : {}) }, answer)
      : http.request(url, options, answer);
  }

  private failure(path: string, err: NodeJS.ErrnoException, timedOut: boolean): ControlPlaneError {
    const code = timedOut ? 'timed out' : err.code;
    const reason = tlsFailureReason(err.code, this.ca) ?? code ?? err.message;
    return new ControlPlaneError(0, `${this.baseUrl}${path}: ${reason}`);
  }

  private send(path: string, payload: string): Promise<{ status: number; text: string }> {
    const url = new URL(`${this.baseUrl}${path}`);
    const headers = {
      authorization: `Bearer ${this.token()}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    };
    const signal = AbortSignal.timeout(this.timeoutMs);
    return new Promise((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => reject(this.failure(path, err, signal.aborted));
      const answer = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      };
      const req = this.request(url, { method: 'POST', headers, signal }, answer);
      req.on('error', fail);
      req.end(payload);
    });
  }

  register(request: RegisterRequest): Promise<RegisterAnswer> {
    return this.post('/api/nodes/register', request);
  }

  heartbeat(name: string, request: HeartbeatRequest): Promise<HeartbeatReply> {
    return this.post(`/api/nodes/${encodeURIComponent(name)}/heartbeat`, request);
  }

  sendLogs(name: string, batch: NodeLogBatch): Promise<NodeLogAnswer> {
    return this.post(`/api/nodes/${encodeURIComponent(name)}/logs`, batch);
  }

  /** The names of the node's events as they come, until the stream ends or `signal` aborts. */
  async *events(name: string, signal: AbortSignal): AsyncGenerator<string> {
    const path = `/api/nodes/${encodeURIComponent(name)}/events`;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers = { authorization: `Bearer ${this.token()}`, accept: 'text/event-stream' };
      const req = this.request(new URL(`${this.baseUrl}${path}`), { method: 'GET', headers, signal }, resolve);
      req.setTimeout(EVENTS_IDLE_MS, () =>
        req.destroy(Object.assign(new Error('silent'), { code: 'silent too long' })),
      );
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.failure(path, err, false)));
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      throw refusal(path, status, Buffer.concat(chunks).toString('utf8'));
    }
    res.setEncoding('utf8');
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += chunk as string;
        let end: number;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          let event: string | null = null;
          let data = false;
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data = true;
          }
          // comments (keep-alives) carry no data
          if (data) yield event ?? 'message';
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw this.failure(path, err as NodeJS.ErrnoException, false);
    }
  }
}

/** The api's refusal as a ControlPlaneError: its JSON `message`, or the start of its text. */
function refusal(path: string, status: number, text: string): ControlPlaneError {
  let message = text.slice(0, 500);
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // not JSON: the text itself
  }
  return new ControlPlaneError(status, `${path}: ${status} ${message}`);
}
