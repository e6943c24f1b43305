/**
 * The agent's side of the protocol (libs/platform scheduling/protocol.ts): JSON over HTTP to
 * the control plane with a bearer token. Errors say what the api answered.
 */
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
  ) {}

  private async post<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControlPlaneError(
        0,
        `${this.baseUrl}${path}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the text itself
      }
      throw new ControlPlaneError(res.status, `${path}: ${res.status} ${message}`);
    }
    return JSON.parse(text) as T;
  }

  register(request: RegisterRequest): Promise<RegisterAnswer> {
    return this.post('/api/nodes/register', request);
  }

  heartbeat(name: string, request: HeartbeatRequest): Promise<HeartbeatReply> {
    return this.post(`/api/nodes/${encodeURIComponent(name)}/heartbeat`, request);
  }
}
