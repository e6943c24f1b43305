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
 * Whether a client takes HTML (RFC 9110 §12.5.1): it does when it sends no Accept, or names
 * text/html, any text type or any type at all without q=0. A script's `Accept:
 * application/json` does not.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'text/html' && type !== 'text/*' && type !== '*/*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** `paas maintenance:on`'s answer, in HTML or plain text. */
export function maintenanceBody(app: string, requestId: string, html: boolean): string {
  const detail = `${app} is down for maintenance. Please try again later.`;
  if (!html) return `${detail}\nrequest id ${requestId}\n`;
  return (
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>Down for maintenance</title></head>\n` +
    `<body><h1>Down for maintenance</h1>\n<p>${escape(detail)}</p>\n` +
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
