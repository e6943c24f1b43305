import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type TestApi, startTestApi } from '../testing/harness';
import { dashboardDir, dashboardHandler } from './static';

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<Got>((resolve, reject) => {
    // the path as it is: URL() would resolve `..` before it reaches the server
    const url = new URL(base);
    const req = request(
      { host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const INDEX = '<!doctype html><html><head><title>paas</title></head><body><div id="root"></div></body></html>\n';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

describe('dashboard files', () => {
  let base: string;
  let dir: string;
  let server: Server;
  let url: string;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'paas-dashboard-'));
    dir = join(base, 'dist');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'index-AbCd12_-.js'), SCRIPT);
    // compressed once, as the dashboard's build writes it (apps/dashboard/vite.config.mjs)
    writeFileSync(join(dir, 'assets', 'index-AbCd12_-.js.gz'), gzipSync(SCRIPT));
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(dir, '.env'), 'SECRET=1\n');
    writeFileSync(join(base, 'secret.txt'), 'outside\n');
    symlinkSync(join(base, 'secret.txt'), join(dir, 'link.txt'));
    const handler = dashboardHandler(dir);
    // what comes after the handler (Nest's routes) answers 418, so passing on is visible
    server = createServer((req, res) =>
      handler(req, res, () => {
        res.statusCode = 418;
        res.end('next');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(base, { recursive: true, force: true });
  });

  it('serves index.html at / and for client routes, revalidated, with a strict CSP', async () => {
    for (const path of ['/', '/apps/shop/releases', '/nodes?x=1', '/login']) {
      const res = await get(url, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.body.toString(), INDEX, path);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'.*script-src 'self'/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
  });

  it('serves hashed assets gzipped with a year of immutable caching, and answers 304 to their etag', async () => {
    const res = await get(url, '/assets/index-AbCd12_-.js', { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.ok(res.body.length < SCRIPT.length / 10);
    assert.equal(gunzipSync(res.body).toString(), SCRIPT);
    const plain = await get(url, '/assets/index-AbCd12_-.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), SCRIPT);
    const again = await get(url, '/assets/index-AbCd12_-.js', {
      headers: { 'if-none-match': String(res.headers['etag']) },
    });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await get(url, '/favicon.svg', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'image/svg+xml');
    assert.equal(head.headers['cache-control'], 'no-cache', 'an unhashed file is revalidated');
    assert.equal(head.body.length, 0);
  });

  it('sends a file the build did not compress as it is, to browsers that take gzip too', async () => {
    const style = `body { color: red; }\n${'/* x */\n'.repeat(200)}`;
    writeFileSync(join(dir, 'assets', 'style-Qw3rTy12.css'), style);
    const plain = await get(url, '/assets/style-Qw3rTy12.css', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(plain.body.toString(), style);
  });

  it('answers 404 for a missing file rather than the page', async () => {
    for (const path of ['/assets/index-00000000.js', '/assets/x', '/robots.txt', '/favicon.ico']) {
      const res = await get(url, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.toString(), 'not found\n');
    }
  });

  it('never serves what is outside the directory, hidden, or reached by a symlink', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/.env', '/link.txt']) {
      const res = await get(url, path);
      assert.ok(res.status === 404 || res.body.toString() === INDEX, `${path}: ${res.status} ${res.body.toString()}`);
      assert.doesNotMatch(res.body.toString(), /outside|SECRET/, path);
    }
  });

  it('leaves /api, /git and anything but GET and HEAD to what comes next', async () => {
    for (const [method, path] of [
      ['GET', '/api'],
      ['GET', '/api/nosuch'],
      ['GET', '/git/shop.git/info/refs?service=git-receive-pack'],
      ['POST', '/'],
      ['DELETE', '/apps/shop'],
    ] as const) {
      const res = await get(url, path, { method });
      assert.equal(res.status, 418, `${method} ${path}`);
    }
    // a page whose name only starts like the api's is the dashboard's
    assert.equal((await get(url, '/apiary')).body.toString(), INDEX);
  });

  it('follows a rebuild, and serves nothing while the dashboard is not built', async () => {
    const next = INDEX.replace('paas', 'paas v2');
    writeFileSync(join(dir, 'index.html'), next);
    assert.equal((await get(url, '/')).body.toString(), next);
    rmSync(join(dir, 'index.html'));
    assert.equal((await get(url, '/')).status, 418);
    assert.equal((await get(url, '/favicon.svg')).status, 418);
    writeFileSync(join(dir, 'index.html'), INDEX);
    assert.equal((await get(url, '/')).status, 200);
  });

  it('finds dist/apps/dashboard from the api source and bundle alike', () => {
    const workspace = join(__dirname, '..', '..', '..', '..');
    assert.equal(dashboardDir(), join(workspace, 'dist', 'apps', 'dashboard'));
    assert.equal(dashboardDir(join(workspace, 'dist', 'apps', 'api')), join(workspace, 'dist', 'apps', 'dashboard'));
    assert.equal(dashboardDir('/'), null);
  });
});

describe('the api with the dashboard module', () => {
  let api: TestApi;
  const built = existsSync(join(__dirname, '..', '..', '..', '..', 'dist', 'apps', 'dashboard', 'index.html'));
  before(async () => {
    api = await startTestApi('sqlite', { PAAS_SCHEDULER: 'off' });
  });
  after(async () => {
    await api?.close();
  });

  it('keeps /api, its JSON 404 and the git receiver as they were', async () => {
    assert.equal((await api.request('GET', '/api/health', { token: null })).body.status, 'ok');
    const missing = await api.request('GET', '/api/nosuch');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { code: 'not_found', message: 'no route for GET /api/nosuch' });
    const bare = await api.request('GET', '/api');
    assert.equal(bare.status, 404);
    assert.equal(bare.body.code, 'not_found');
    const git = await api.request('GET', '/git/nosuch.git/info/refs?service=git-receive-pack', { token: null });
    assert.equal(git.status, 401, git.text);
    assert.doesNotMatch(git.text, /<html/i);
    const post = await api.request('POST', '/apps/x', { body: {} });
    assert.equal(post.status, 404);
    assert.equal(post.body.code, 'not_found');
  });

  it(
    'serves the built dashboard at / and on its client routes',
    { skip: !built && 'dashboard not built' },
    async () => {
      for (const path of ['/', '/apps/shop', '/nodes']) {
        const res = await api.request('GET', path, { token: null });
        assert.equal(res.status, 200, path);
        assert.match(String(res.headers['content-type']), /^text\/html/);
        assert.match(res.text, /<div id="root"><\/div>/);
      }
      const script = /src="(\/assets\/[^"]+\.js)"/.exec((await api.request('GET', '/', { token: null })).text)?.[1];
      assert.ok(script, 'index.html loads a hashed script');
      const js = await api.request('GET', script, { token: null });
      assert.equal(js.status, 200);
      assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
      // the build compressed it once: sent whole, with its length, to browsers that take gzip
      const gz = await api.request('GET', script, { token: null, headers: { 'accept-encoding': 'gzip' } });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.match(String(gz.headers['content-type']), /^text\/javascript/);
      assert.ok(Number(gz.headers['content-length']) < Number(js.headers['content-length']) / 2, 'gzip pays');
    },
  );
});
