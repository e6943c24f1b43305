/**
 * The pull-through cache against a real upstream registry on loopback (token auth, as Docker
 * Hub): what is fetched once, what is re-checked, what is refused, and what an upstream that
 * is down or answers wrong leaves behind.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { digestOf } from '@paas/oci';
import { UserStore } from '../auth/users';
import { type TestRegistry, errorCode, putImage, testRegistry } from '../spec-support';

describe('registry pull-through cache', () => {
  let upstream: TestRegistry;
  let cache: TestRegistry;
  const seen: string[] = [];

  before(async () => {
    upstream = await testRegistry({ auth: 'token' });
    await new UserStore(upstream.root).set('hub', 'hub-secret', 'push');
    upstream.server.prependListener('request', (req) => {
      if (req.url?.startsWith('/v2/') && req.url !== '/v2/') seen.push(`${req.method} ${req.url}`);
    });
    cache = await testRegistry({
      proxy: { remote: upstream.url, credentials: { username: 'hub', password: 'hub-secret' } },
    });
  });
  after(async () => {
    await cache.dispose();
    await upstream.dispose();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const token = async (scope: string): Promise<Record<string, string>> => {
    const res = await fetch(`${upstream.url}/token?scope=${scope}`, {
      headers: { Authorization: `Basic ${Buffer.from('hub:hub-secret').toString('base64')}` },
    });
    return { Authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
  };
  const pushUpstream = async (name: string, tag: string, extra: Record<string, unknown> = {}) =>
    putImage(upstream.url, name, tag, extra, await token(`repository:${name}:pull,push`));

  it('fetches an image once, then serves it locally; a tag is re-checked with a HEAD, a blob never', async () => {
    const image = await pushUpstream('library/node', '20-slim');
    seen.length = 0;
    const pull = async (): Promise<void> => {
      const m = await fetch(`${cache.url}/v2/library/node/manifests/20-slim`);
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('docker-content-digest'), image.digest);
      assert.ok(Buffer.from(await m.arrayBuffer()).equals(image.bytes));
      for (const blob of [image.config, image.layer]) {
        const b = await fetch(`${cache.url}/v2/library/node/blobs/${blob}`);
        assert.equal(b.status, 200);
        assert.equal(digestOf(Buffer.from(await b.arrayBuffer())), blob);
      }
    };
    await pull();
    const first = seen.filter((s) => !s.startsWith('HEAD'));
    assert.deepEqual(
      first.sort(),
      [
        `GET /v2/library/node/blobs/${image.config}`,
        `GET /v2/library/node/blobs/${image.layer}`,
        'GET /v2/library/node/manifests/20-slim',
      ].sort(),
    );
    seen.length = 0;
    await pull();
    assert.deepEqual(seen, ['HEAD /v2/library/node/manifests/20-slim']);
    // by digest: nothing upstream at all
    seen.length = 0;
    assert.equal((await fetch(`${cache.url}/v2/library/node/manifests/${image.digest}`)).status, 200);
    assert.deepEqual(seen, []);
  });

  it('follows a tag moved upstream', async () => {
    await pushUpstream('library/moving', 'latest');
    assert.equal((await fetch(`${cache.url}/v2/library/moving/manifests/latest`)).status, 200);
    const moved = await pushUpstream('library/moving', 'latest', { annotations: { v: '2' } });
    const m = await fetch(`${cache.url}/v2/library/moving/manifests/latest`);
    assert.equal(m.headers.get('docker-content-digest'), moved.digest);
  });

  it('does not proxy the platform’s own one-component repositories, and refuses pushes to proxied ones', async () => {
    await pushUpstream('web', 'v1'); // exists upstream, but a release repository is never fetched
    seen.length = 0;
    const res = await fetch(`${cache.url}/v2/web/manifests/v1`);
    assert.equal(res.status, 404);
    assert.ok(!seen.some((s) => s.includes('/v2/web/')), seen.join('\n'));
    // releases are still pushed here
    await putImage(cache.url, 'web', 'v1');
    assert.equal((await fetch(`${cache.url}/v2/web/manifests/v1`)).status, 200);
    // nobody plants an image under an upstream name
    const post = await fetch(`${cache.url}/v2/library/node/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 405);
    const body = (await post.json()) as { errors: Array<{ message: string }> };
    assert.match(body.errors[0]?.message ?? '', /cache of the upstream registry http:\/\/127\.0\.0\.1:\d+/);
    const del = await fetch(`${cache.url}/v2/library/node/manifests/20-slim`, { method: 'DELETE' });
    assert.equal(del.status, 405);
  });

  it('says the upstream does not know an image', async () => {
    const res = await fetch(`${cache.url}/v2/library/absent/manifests/1`);
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN');
  });

  it('names the upstream when it is down, and keeps nothing', async () => {
    const image = await pushUpstream('library/down', '1');
    const down = await testRegistry({ proxy: { remote: 'http://127.0.0.1:9' } });
    try {
      const res = await fetch(`${down.url}/v2/library/node/manifests/20-slim`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
      assert.match(
        body.errors[0]?.message ?? '',
        /upstream registry http:\/\/127\.0\.0\.1:9 failed for library\/node:20-slim/,
      );
      const blob = await fetch(`${down.url}/v2/library/node/blobs/${image.layer}`);
      assert.equal(blob.status, 503);
      assert.deepEqual(await readdir(join(down.root, 'content', 'blobs', 'sha256')).catch(() => []), []);
    } finally {
      await down.dispose();
    }
  });

  it('serves a cached tag while the upstream is down', async () => {
    const image = await pushUpstream('library/cached', '1');
    const own = await testRegistry({
      proxy: { remote: upstream.url, credentials: { username: 'hub', password: 'hub-secret' } },
    });
    const gone = await testRegistry();
    try {
      assert.equal((await fetch(`${own.url}/v2/library/cached/manifests/1`)).status, 200);
      // the same cache, its upstream now an address nobody answers at
      await own.close();
      const again = await testRegistry({ root: own.root, proxy: { remote: gone.url } });
      await gone.close();
      try {
        const res = await fetch(`${again.url}/v2/library/cached/manifests/1`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('docker-content-digest'), image.digest);
      } finally {
        await again.close();
      }
    } finally {
      await own.dispose();
      await gone.dispose();
    }
  });

  it('refuses a blob whose bytes do not hash to its name, keeping nothing of it', async () => {
    const fake = `sha256:${'ab'.repeat(32)}`;
    // an upstream answering any blob with bytes that are not it
    const evil = createServer((req, res) => {
      res.writeHead(200, { 'Content-Length': 5, 'Docker-Content-Digest': fake });
      res.end(req.method === 'HEAD' ? undefined : 'bytes');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const proxy = await testRegistry({ proxy: { remote: `http://127.0.0.1:${(evil.address() as AddressInfo).port}` } });
    try {
      const res = await fetch(`${proxy.url}/v2/library/evil/blobs/${fake}`);
      assert.equal(res.status, 503);
      assert.deepEqual(await readdir(join(proxy.root, 'content', 'blobs', 'sha256')).catch(() => []), []);
    } finally {
      await proxy.dispose();
      await new Promise((resolve) => evil.close(resolve));
    }
  });
});
