/** What the fake api's routes answer with (./fake-api.ts and the add-ons' ./fake-backups.ts). */
import type { ServerResponse } from 'node:http';

/** A refusal, answered as the api's error JSON `{code, message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
