/**
 * The dashboard's files (apps/dashboard, built by Vite into dist/apps/dashboard) as the api
 * serves them at `/`: files as they are, `index.html` for every other page path so that the
 * single-page app's own routes (`/apps/shop/releases`) load, long caching for Vite's hashed
 * assets and revalidation for the rest. `/api` and `/git` are never touched here, and
 * neither is anything but GET and HEAD: those go on to Nest (and its JSON 404).
 *
 * Which file answers is decided here; sending it is `send`'s (the core of serve-static:
 * types, ETag and conditional GET, HEAD, ranges). serve-static itself is not used because it
 * answers a path with the file of that path, and the page fallback answers any path with
 * index.html. Compression happens once, at build: the Vite config writes `FILE.gz` beside
 * each file worth it, sent to browsers that take gzip. The `compression` middleware was
 * measured against it and lost: it re-compresses the 260 KB bundle on every uncached load,
 * answers without Content-Length (chunked), and always picks brotli when offered.
 * Files are looked at on every request, so a rebuild while the api runs is picked up on the
 * next one.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import send from 'send';

export type Next = (err?: unknown) => void;
export type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

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

/** Paths that belong to the api and the git receiver, never to the dashboard. */
function isServerPath(path: string): boolean {
  return /^\/(api|git)(\/|$)/.test(path);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file a URL path names inside `root`, or null (outside it, hidden, or not a file). */
function fileFor(root: string, path: string): string | null {
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
}

function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
}

/**
 * `FILE.gz` when the build wrote it. Its age is not compared with the file's: an Nx cache
 * restore writes the two in either order, and the build is the only writer of both.
 */
function gzipOf(file: string): string | null {
  return isFile(`${file}.gz`) ? `${file}.gz` : null;
}

function notFound(res: ServerResponse, head: boolean): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(head ? undefined : 'not found\n');
}

/**
 * `file` (inside `root`, checked) with `cacheControl`, or its build-time gzip when the
 * browser takes it; a file gone since is a 404.
 */
function serve(req: IncomingMessage, res: ServerResponse, root: string, file: string, cacheControl: string): void {
  const gzipped = acceptsGzip(req) ? gzipOf(file) : null;
  const path = `/${relative(root, gzipped ?? file)
    .split(sep)
    .map(encodeURIComponent)
    .join('/')}`;
  const stream = send(req, path, { root, index: false, dotfiles: 'deny', cacheControl: false });
  stream
    .on('headers', (out: ServerResponse) => {
      if (gzipped) {
        // the type and validators of what was compressed, as send gives them uncompressed:
        // one weak ETag for both encodings of the same file
        stream.type(file);
        out.setHeader('Content-Encoding', 'gzip');
        const original = statSync(file);
        out.setHeader('ETag', `W/"${original.size.toString(16)}-${original.mtime.getTime().toString(16)}"`);
        out.setHeader('Last-Modified', original.mtime.toUTCString());
      }
      out.setHeader('Cache-Control', cacheControl);
      out.setHeader('X-Content-Type-Options', 'nosniff');
      out.setHeader('Vary', 'Accept-Encoding');
      if (extname(file) === '.html') {
        out.setHeader('Content-Security-Policy', CSP);
        out.setHeader('Referrer-Policy', 'no-referrer');
        out.setHeader('X-Frame-Options', 'DENY');
      }
    })
    .on('error', () => (res.headersSent ? res.destroy() : notFound(res, req.method === 'HEAD')))
    .pipe(res);
}

/**
 * A connect-style handler serving `dir`. `dir` is looked at on every request, so a dashboard
 * built after the api started is served, and one removed is not (requests go on to Nest).
 */
export function dashboardHandler(dir: string): Handler {
  return (req, res, next) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isServerPath(path)) return next();
    let root: string;
    try {
      root = realpathSync(dir);
    } catch {
      return next();
    }
    const index = join(root, 'index.html');
    if (!isFile(index)) return next();
    const named = path === '/' ? null : fileFor(root, path);
    // A missing file (a name with an extension, or under assets/) is a 404, not the app:
    // a stale page asking for an asset of an older build must not get HTML for its script.
    if (!named && (path.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(path))) {
      return notFound(res, req.method === 'HEAD');
    }
    if (named) serve(req, res, root, named, IMMUTABLE.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    else serve(req, res, root, index, 'no-cache');
  };
}
