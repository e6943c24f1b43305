/**
 * The dashboard's files (apps/dashboard, built by Vite into dist/apps/dashboard) as the api
 * serves them at `/`: files as they are, `index.html` for every other page path so that the
 * single-page app's own routes (`/apps/shop/releases`) load, long caching for Vite's hashed
 * assets and revalidation for the rest. `/api` and `/git` are never touched here, and
 * neither is anything but GET and HEAD: those go on to Nest (and its JSON 404).
 *
 * Files are read once and kept in memory with their gzip form, keyed by size and mtime, so
 * a rebuild while the api runs is picked up on the next request.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

export type Next = (err?: unknown) => void;
export type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** What is worth compressing (images and fonts already are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);

/** Vite names built assets `name-HASH.ext` under assets/: their content never changes. */
const IMMUTABLE = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/** The dashboard talks only to its own origin, and nothing inline runs or styles it. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the built dashboard lives: dist/apps/dashboard of the workspace this file is in (the
 * api runs from apps/api/src or as dist/apps/api/main.js), or null outside a workspace.
 * Whether it was built is asked on each request.
 */
export function dashboardDir(from: string = __dirname): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return join(dir, 'dist', 'apps', 'dashboard');
    if (dirname(dir) === dir) return null;
  }
}

interface Cached {
  readonly key: string;
  readonly body: Buffer;
  readonly gzip: Buffer | null;
  readonly etag: string;
  readonly type: string;
}

/** Paths that belong to the api and the git receiver, never to the dashboard. */
function isServerPath(path: string): boolean {
  return /^\/(api|git)(\/|$)/.test(path);
}

/**
 * A connect-style handler serving `dir`. `dir` is looked at on every request, so a dashboard
 * built after the api started is served, and one removed is not (requests go on to Nest).
 */
export function dashboardHandler(dir: string): Handler {
  const cache = new Map<string, Cached>();

  const load = (file: string): Cached | null => {
    let st;
    try {
      st = statSync(file);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = cache.get(file);
    if (hit?.key === key) return hit;
    const body = readFileSync(file);
    const ext = extname(file).toLowerCase();
    const gzip = COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : null;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const entry = { key, body, gzip, etag, type: TYPES[ext] ?? 'application/octet-stream' };
    cache.set(file, entry);
    return entry;
  };

  /** The file a URL path names inside `dir`, or null (outside it, hidden, or not a file). */
  const fileFor = (root: string, path: string): string | null => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.split('/').some((part) => part.startsWith('.'))) return null;
    const file = resolve(root, `.${decoded}`);
    if (!file.startsWith(root + sep)) return null;
    try {
      // no symlink out of the directory either
      const real = realpathSync(file);
      return real.startsWith(root + sep) && statSync(real).isFile() ? real : null;
    } catch {
      return null;
    }
  };

  const send = (req: IncomingMessage, res: ServerResponse, file: Cached, cacheControl: string): void => {
    res.setHeader('Content-Type', file.type);
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('ETag', file.etag);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Vary', 'Accept-Encoding');
    if (file.type.startsWith('text/html')) {
      res.setHeader('Content-Security-Policy', CSP);
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
    }
    const match = req.headers['if-none-match'];
    if (match && match.split(',').some((tag) => tag.trim() === file.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const gzip = file.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? file.gzip : null;
    const body = gzip ?? file.body;
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', body.length);
    res.statusCode = 200;
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return (req, res, next) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isServerPath(path)) return next();
    let root: string;
    try {
      root = realpathSync(dir);
    } catch {
      return next();
    }
    const index = load(join(root, 'index.html'));
    if (!index) return next();
    const named = path === '/' ? null : fileFor(root, path);
    if (named) {
      const file = load(named);
      if (file) {
        const immutable = IMMUTABLE.test(path);
        return send(req, res, file, immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
    }
    // A missing file (a name with an extension, or under assets/) is a 404, not the app:
    // a stale page asking for an asset of an older build must not get HTML for its script.
    if (path.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(path)) {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache');
      res.end(req.method === 'HEAD' ? undefined : 'not found\n');
      return;
    }
    send(req, res, index, 'no-cache');
  };
}
