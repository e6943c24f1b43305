/** The router's own answers: small HTML pages saying what went wrong and the request id. */
import { STATUS_CODES } from 'node:http';

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function pageBody(status: number, detail: string, requestId: string): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return (
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n` +
    `<body><h1>${title}</h1>\n<p>${escape(detail)}</p>\n` +
    `<p><small>request id ${escape(requestId)} &middot; paas router</small></p></body></html>\n`
  );
}

/**
 * A whole HTTP/1.1 response for a raw socket (client errors, refused websocket upgrades).
 * `headers` are the router's own; a value may carry the request's target (a redirect's
 * location), which Node's parser never lets hold CR or LF.
 */
export function rawResponse(
  status: number,
  detail: string,
  requestId: string,
  headers: Readonly<Record<string, string>> = {},
): string {
  const body = pageBody(status, detail, requestId);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    'content-type: text/html; charset=utf-8\r\n' +
    'cache-control: no-store\r\n' +
    (requestId ? `x-request-id: ${requestId}\r\n` : '') +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}
