/**
 * The agent's side of the protocol (libs/platform scheduling/protocol.ts): JSON over HTTP(S)
 * to the control plane with a bearer token. Errors say what the api answered. Over https the
 * api's certificate must chain to `ca` (the platform CA) or, without one, to Node's roots:
 * node:https rather than fetch, which takes no CA of its own on Node 20.
 */
import http from 'node:http';
import https from 'node:https';
import { type TrustedCa, tlsFailureReason } from '@paas/config';
import type { HeartbeatReply, HeartbeatRequest, RegisterAnswer, RegisterRequest } from '@paas/platform';
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

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => string,
    private readonly timeoutMs = 10_000,
    private readonly ca: TrustedCa | null = null,
  ) {}

  private async post<T>(path: string, body: unknown): Promise<T> {
    const { status, text } = await this.send(path, JSON.stringify(body));
    if (status < 200 || status >= 300) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the text itself
      }
      throw new ControlPlaneError(status, `${path}: ${status} ${message}`);
    }
    return JSON.parse(text) as T;
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
      const fail = (err: NodeJS.ErrnoException): void => {
        const code = signal.aborted ? 'timed out' : err.code;
        const reason = tlsFailureReason(err.code, this.ca) ?? code ?? err.message;
        reject(new ControlPlaneError(0, `${this.baseUrl}${path}: ${reason}`));
      };
      const answer = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      };
      const req =
        url.protocol === 'https:'
          ? https.request(url, { method: 'POST', headers, signal, ...(this.ca ? { ca: this.ca.pem } : {}) }, answer)
          : http.request(url, { method: 'POST', headers, signal }, answer);
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
}
