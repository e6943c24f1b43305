/** Small node:http helpers the routes share: bodies, ranges, pagination, JSON answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../errors';

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

/** Reads a whole small body, refusing more than `limit` bytes with SIZE_INVALID (413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new RegistryError('SIZE_INVALID', `body larger than ${limit} bytes`, undefined, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RegistryError('SIZE_INVALID', `body larger than ${limit} bytes`, undefined, 413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Whether the request carries a body (a Content-Length above zero or chunked encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
}

export function contentLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length');
  return Number(value);
}

/**
 * `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` for a blob of `size`; undefined without a
 * header; 416 when unsatisfiable. Several ranges are not supported (the whole blob is sent).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) {
    const err = new RegistryError('BLOB_UNKNOWN', 'requested range not satisfiable', { size }, 416);
    err.headers['Content-Range'] = `bytes */${size}`;
    throw err;
  }
  return { start, end };
}

/** `n`/`last` pagination of a sorted list, with the RFC 5988 Link to the next page. */
export function paginate(all: string[], query: URLSearchParams, path: string): { items: string[]; link?: string } {
  const last = query.get('last');
  let items = last !== null ? all.filter((x) => x > last) : all;
  const nParam = query.get('n');
  if (nParam === null) return { items };
  if (!/^\d+$/.test(nParam)) throw new RegistryError('UNSUPPORTED', 'invalid n', { n: nParam }, 400);
  const n = Number(nParam);
  const more = items.length > n;
  items = items.slice(0, n);
  const lastItem = items[items.length - 1];
  if (!more || lastItem === undefined) return { items };
  return { items, link: `<${path}?n=${n}&last=${encodeURIComponent(lastItem)}>; rel="next"` };
}
