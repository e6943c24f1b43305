/**
 * A conformance suite in the manner of the OCI distribution-spec's: pull, push (monolithic,
 * chunked, out-of-order chunks), content discovery (tags, catalog, pagination, referrers)
 * and content management (deletes), with every error code, against our server on port 0.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Digest, MediaType, digestOf } from '@paas/oci';
import { type TestRegistry, errorCode, putBlob, putImage, testRegistry } from '../spec-support';

describe('registry conformance', () => {
  let reg: TestRegistry;
  let url = '';
  before(async () => {
    reg = await testRegistry({ maxUploads: 50 });
    url = reg.url;
  });
  after(() => reg.dispose());

  const expectError = async (res: Response, status: number, code: string): Promise<void> => {
    assert.equal(res.status, status, `expected ${status} ${code}`);
    assert.equal(await errorCode(res), code);
  };

  describe('base and pull', () => {
    it('answers /v2/ with the API version header', async () => {
      const res = await fetch(`${url}/v2/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    });

    it('serves blobs whole, by range, and HEAD with the digest and length', async () => {
      const data = Buffer.from('0123456789abcdefghij');
      const digest = await putBlob(url, 'pull/blob', data);
      const head = await fetch(`${url}/v2/pull/blob/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '20');
      assert.equal(head.headers.get('docker-content-digest'), digest);
      const whole = await fetch(`${url}/v2/pull/blob/blobs/${digest}`);
      assert.deepEqual(Buffer.from(await whole.arrayBuffer()), data);
      const part = await fetch(`${url}/v2/pull/blob/blobs/${digest}`, { headers: { Range: 'bytes=5-9' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), 'bytes 5-9/20');
      assert.equal(await part.text(), '56789');
      const bad = await fetch(`${url}/v2/pull/blob/blobs/${digest}`, { headers: { Range: 'bytes=50-60' } });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers.get('content-range'), 'bytes */20');
      await bad.body?.cancel();
    });

    it('answers BLOB_UNKNOWN for blobs not in the repository, even when another repository has them', async () => {
      const digest = await putBlob(url, 'pull/a', Buffer.from('only in a'));
      await expectError(await fetch(`${url}/v2/pull/b/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      await expectError(await fetch(`${url}/v2/pull/a/blobs/${digestOf('nothing')}`), 404, 'BLOB_UNKNOWN');
    });

    it('serves manifests by tag and digest with their media type and digest', async () => {
      const image = await putImage(url, 'pull/image', 'v1');
      for (const ref of ['v1', image.digest]) {
        const res = await fetch(`${url}/v2/pull/image/manifests/${ref}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), MediaType.ociManifest);
        assert.equal(res.headers.get('docker-content-digest'), image.digest);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.bytes);
      }
      const head = await fetch(`${url}/v2/pull/image/manifests/v1`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(image.bytes.length));
      await expectError(await fetch(`${url}/v2/pull/image/manifests/v2`), 404, 'MANIFEST_UNKNOWN');
      await expectError(await fetch(`${url}/v2/pull/nothing/manifests/v1`), 404, 'NAME_UNKNOWN');
    });
  });

  describe('push', () => {
    it('takes a monolithic upload as POST then PUT', async () => {
      const data = Buffer.from('post then put');
      const digest = digestOf(data);
      const post = await fetch(`${url}/v2/push/mono/blobs/uploads/`, { method: 'POST' });
      assert.equal(post.status, 202);
      const location = post.headers.get('location') ?? '';
      assert.match(location, /^\/v2\/push\/mono\/blobs\/uploads\/[0-9a-f-]{36}$/);
      assert.ok(post.headers.get('docker-upload-uuid'));
      const put = await fetch(`${url}${location}?digest=${digest}`, { method: 'PUT', body: data });
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('location'), `/v2/push/mono/blobs/${digest}`);
      assert.equal(put.headers.get('docker-content-digest'), digest);
      assert.equal(await (await fetch(`${url}/v2/push/mono/blobs/${digest}`)).text(), 'post then put');
    });

    it('takes chunks in order, reports progress, and refuses an out-of-order chunk with 416', async () => {
      const data = Buffer.from('chunk-one!chunk-two!chunk-3');
      const post = await fetch(`${url}/v2/push/chunked/blobs/uploads/`, { method: 'POST' });
      const location = post.headers.get('location') ?? '';
      const patch = (start: number, end: number) =>
        fetch(`${url}${location}`, {
          method: 'PATCH',
          body: data.subarray(start, end + 1),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}` },
        });
      const first = await patch(0, 9);
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('range'), '0-9');
      await expectError(await patch(20, 26), 416, 'BLOB_UPLOAD_INVALID');
      const status = await fetch(`${url}${location}`);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-9');
      assert.equal((await patch(10, 19)).status, 202);
      const put = await fetch(`${url}${location}?digest=${digestOf(data)}`, {
        method: 'PUT',
        body: data.subarray(20),
        headers: { 'Content-Range': `20-${data.length - 1}` },
      });
      assert.equal(put.status, 201);
      assert.deepEqual(
        Buffer.from(await (await fetch(`${url}/v2/push/chunked/blobs/${digestOf(data)}`)).arrayBuffer()),
        data,
      );
      await expectError(await fetch(`${url}${location}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('refuses a PUT with the wrong digest, without a digest, and a malformed Content-Range', async () => {
      const post = await fetch(`${url}/v2/push/wrong/blobs/uploads/`, { method: 'POST' });
      const location = post.headers.get('location') ?? '';
      await expectError(
        await fetch(`${url}${location}`, { method: 'PATCH', body: 'x', headers: { 'Content-Range': 'a-b' } }),
        416,
        'BLOB_UPLOAD_INVALID',
      );
      await expectError(await fetch(`${url}${location}`, { method: 'PUT', body: 'abc' }), 400, 'DIGEST_INVALID');
      await expectError(
        await fetch(`${url}${location}?digest=${digestOf('something else')}`, { method: 'PUT', body: 'abc' }),
        400,
        'DIGEST_INVALID',
      );
      await expectError(
        await fetch(`${url}/v2/push/wrong/blobs/${digestOf('abc')}`, { method: 'HEAD' }).then(
          (r) => new Response('{"errors":[{"code":"BLOB_UNKNOWN"}]}', { status: r.status }),
        ),
        404,
        'BLOB_UNKNOWN',
      );
      await expectError(
        await fetch(`${url}/v2/push/wrong/blobs/uploads/?digest=${digestOf('no')}`, { method: 'POST', body: 'yes' }),
        400,
        'DIGEST_INVALID',
      );
    });

    it('answers SIZE_INVALID when Content-Range and Content-Length disagree', async () => {
      const post = await fetch(`${url}/v2/push/size/blobs/uploads/`, { method: 'POST' });
      const location = post.headers.get('location') ?? '';
      const res = await fetch(`${url}${location}`, {
        method: 'PATCH',
        body: 'abcd',
        headers: { 'Content-Range': '0-9' },
      });
      await expectError(res, 400, 'SIZE_INVALID');
    });

    it('cancels an upload with DELETE', async () => {
      const post = await fetch(`${url}/v2/push/cancel/blobs/uploads/`, { method: 'POST' });
      const location = post.headers.get('location') ?? '';
      assert.equal((await fetch(`${url}${location}`, { method: 'DELETE' })).status, 204);
      await expectError(await fetch(`${url}${location}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(
        await fetch(`${url}/v2/push/other/blobs/uploads/${location.split('/').pop()}`),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      await expectError(await fetch(`${url}/v2/push/cancel/blobs/uploads/not-a-uuid`), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('mounts a blob from another repository, or opens a session when it cannot', async () => {
      const digest = await putBlob(url, 'mount/from', Buffer.from('mount me'));
      const mounted = await fetch(`${url}/v2/mount/to/blobs/uploads/?mount=${digest}&from=mount/from`, {
        method: 'POST',
      });
      assert.equal(mounted.status, 201);
      assert.equal(mounted.headers.get('docker-content-digest'), digest);
      assert.equal(await (await fetch(`${url}/v2/mount/to/blobs/${digest}`)).text(), 'mount me');
      const fallback = await fetch(`${url}/v2/mount/to/blobs/uploads/?mount=${digestOf('absent')}&from=mount/from`, {
        method: 'POST',
      });
      assert.equal(fallback.status, 202);
    });

    it('stores OCI and Docker manifests and indexes, refusing missing blobs and children', async () => {
      const image = await putImage(url, 'push/m', 'oci');
      const docker = JSON.parse(image.bytes.toString()) as Record<string, unknown>;
      docker['mediaType'] = MediaType.dockerManifest;
      const dockerBytes = Buffer.from(JSON.stringify(docker));
      const put = await fetch(`${url}/v2/push/m/manifests/docker`, {
        method: 'PUT',
        body: dockerBytes,
        headers: { 'Content-Type': MediaType.dockerManifest },
      });
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), digestOf(dockerBytes));
      const got = await fetch(`${url}/v2/push/m/manifests/docker`);
      assert.equal(got.headers.get('content-type'), MediaType.dockerManifest);
      await got.body?.cancel();

      const index = (children: Digest[], mediaType: string = MediaType.ociIndex) =>
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType,
            manifests: children.map((digest) => ({
              mediaType: MediaType.ociManifest,
              digest,
              size: image.bytes.length,
              platform: { os: 'linux', architecture: 'amd64' },
            })),
          }),
        );
      const good = await fetch(`${url}/v2/push/m/manifests/multi`, {
        method: 'PUT',
        body: index([image.digest]),
        headers: { 'Content-Type': MediaType.ociIndex },
      });
      assert.equal(good.status, 201);
      const list = await fetch(`${url}/v2/push/m/manifests/list`, {
        method: 'PUT',
        body: index([image.digest], MediaType.dockerManifestList),
        headers: { 'Content-Type': MediaType.dockerManifestList },
      });
      assert.equal(list.status, 201);
      assert.equal(
        (await fetch(`${url}/v2/push/m/manifests/list`, { method: 'HEAD' })).headers.get('content-type'),
        MediaType.dockerManifestList,
      );
      await expectError(
        await fetch(`${url}/v2/push/m/manifests/bad`, {
          method: 'PUT',
          body: index([digestOf('no such manifest')]),
          headers: { 'Content-Type': MediaType.ociIndex },
        }),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      const missingLayer = {
        ...docker,
        mediaType: MediaType.ociManifest,
        layers: [{ mediaType: MediaType.ociLayerGzip, digest: digestOf('gone'), size: 4 }],
      };
      await expectError(
        await fetch(`${url}/v2/push/m/manifests/bad`, {
          method: 'PUT',
          body: JSON.stringify(missingLayer),
          headers: { 'Content-Type': MediaType.ociManifest },
        }),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      // blobs of another repository do not count
      await expectError(
        await fetch(`${url}/v2/push/elsewhere/manifests/x`, {
          method: 'PUT',
          body: image.bytes,
          headers: { 'Content-Type': MediaType.ociManifest },
        }),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      await expectError(
        await fetch(`${url}/v2/push/m/manifests/bad`, {
          method: 'PUT',
          body: '{not json',
          headers: { 'Content-Type': MediaType.ociManifest },
        }),
        400,
        'MANIFEST_INVALID',
      );
      await expectError(
        await fetch(`${url}/v2/push/m/manifests/${digestOf('other bytes')}`, {
          method: 'PUT',
          body: image.bytes,
          headers: { 'Content-Type': MediaType.ociManifest },
        }),
        400,
        'DIGEST_INVALID',
      );
      const byDigest = await fetch(`${url}/v2/push/m/manifests/${image.digest}`, {
        method: 'PUT',
        body: image.bytes,
        headers: { 'Content-Type': MediaType.ociManifest },
      });
      assert.equal(byDigest.status, 201);
      await expectError(
        await fetch(`${url}/v2/push/m/manifests/-bad-tag`, { method: 'PUT', body: image.bytes }),
        400,
        'TAG_INVALID',
      );
    });

    it('answers TOO_MANY_REQUESTS above the upload session limit', async () => {
      const small = await testRegistry({ maxUploads: 1 });
      try {
        assert.equal((await fetch(`${small.url}/v2/a/blobs/uploads/`, { method: 'POST' })).status, 202);
        await expectError(
          await fetch(`${small.url}/v2/a/blobs/uploads/`, { method: 'POST' }),
          429,
          'TOO_MANY_REQUESTS',
        );
      } finally {
        await small.dispose();
      }
    });
  });

  describe('content discovery', () => {
    it('lists tags with n/last pagination and Link headers', async () => {
      for (const tag of ['e', 'b', 'a', 'd', 'c']) await putImage(url, 'disc/tags', tag);
      const all = await fetch(`${url}/v2/disc/tags/tags/list`);
      assert.deepEqual(await all.json(), { name: 'disc/tags', tags: ['a', 'b', 'c', 'd', 'e'] });
      const page1 = await fetch(`${url}/v2/disc/tags/tags/list?n=2`);
      assert.deepEqual(((await page1.json()) as { tags: string[] }).tags, ['a', 'b']);
      assert.equal(page1.headers.get('link'), '</v2/disc/tags/tags/list?n=2&last=b>; rel="next"');
      const page2 = await fetch(`${url}/v2/disc/tags/tags/list?n=2&last=b`);
      assert.deepEqual(((await page2.json()) as { tags: string[] }).tags, ['c', 'd']);
      const page3 = await fetch(`${url}/v2/disc/tags/tags/list?n=2&last=d`);
      assert.deepEqual(((await page3.json()) as { tags: string[] }).tags, ['e']);
      assert.equal(page3.headers.get('link'), null);
      const none = await fetch(`${url}/v2/disc/tags/tags/list?n=0`);
      assert.deepEqual(((await none.json()) as { tags: string[] }).tags, []);
      await expectError(await fetch(`${url}/v2/disc/none/tags/list`), 404, 'NAME_UNKNOWN');
    });

    it('lists the catalog with pagination', async () => {
      await putImage(url, 'disc/cat1', 'x');
      await putImage(url, 'disc/cat2', 'x');
      const all = (await (await fetch(`${url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.ok(all.repositories.includes('disc/cat1') && all.repositories.includes('disc/cat2'));
      assert.deepEqual([...all.repositories].sort(), all.repositories);
      const page = await fetch(`${url}/v2/_catalog?n=1&last=disc/cat1`);
      assert.deepEqual(((await page.json()) as { repositories: string[] }).repositories, ['disc/cat2']);
      assert.match(page.headers.get('link') ?? '', /^<\/v2\/_catalog\?n=1&last=disc%2Fcat2>; rel="next"$/);
    });

    it('lists referrers of a subject, filtered by artifactType', async () => {
      const subject = await putImage(url, 'disc/ref', 'base');
      const subjectDescriptor = {
        mediaType: MediaType.ociManifest,
        digest: subject.digest,
        size: subject.bytes.length,
      };
      const sbom = await putImage(url, 'disc/ref', 'sbom', {
        artifactType: 'application/spdx+json',
        subject: subjectDescriptor,
        annotations: { kind: 'sbom' },
      });
      const sig = await putImage(url, 'disc/ref', 'sig', {
        artifactType: 'application/vnd.dev.cosign',
        subject: subjectDescriptor,
      });
      const all = await fetch(`${url}/v2/disc/ref/referrers/${subject.digest}`);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get('content-type'), MediaType.ociIndex);
      const index = (await all.json()) as {
        manifests: Array<{ digest: string; artifactType: string; annotations?: unknown }>;
      };
      assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [sbom.digest, sig.digest].sort());
      assert.deepEqual(index.manifests.find((m) => m.digest === sbom.digest)?.annotations, { kind: 'sbom' });
      const filtered = await fetch(
        `${url}/v2/disc/ref/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`,
      );
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(
        ((await filtered.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest),
        [sbom.digest],
      );
      const empty = await fetch(`${url}/v2/disc/ref/referrers/${digestOf('no subject')}`);
      assert.deepEqual(((await empty.json()) as { manifests: unknown[] }).manifests, []);
      await expectError(await fetch(`${url}/v2/disc/ref/referrers/sha256:nothex`), 400, 'DIGEST_INVALID');
    });

    it('answers OCI-Subject when a manifest with a subject is pushed', async () => {
      const subject = await putImage(url, 'disc/subj', 'base');
      const config = await putBlob(url, 'disc/subj', Buffer.from('{}'));
      const res = await fetch(`${url}/v2/disc/subj/manifests/art`, {
        method: 'PUT',
        headers: { 'Content-Type': MediaType.ociManifest },
        body: JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          artifactType: 'application/x-test',
          config: { mediaType: MediaType.ociEmpty, digest: config, size: 2 },
          layers: [],
          subject: { mediaType: MediaType.ociManifest, digest: subject.digest, size: subject.bytes.length },
        }),
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject.digest);
    });
  });

  describe('content management', () => {
    it('deletes tags, manifests and blobs', async () => {
      const image = await putImage(url, 'mgmt/del', 'one');
      await putImage(url, 'mgmt/del', 'two');
      assert.equal((await fetch(`${url}/v2/mgmt/del/manifests/two`, { method: 'DELETE' })).status, 202);
      await expectError(await fetch(`${url}/v2/mgmt/del/manifests/two`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await fetch(`${url}/v2/mgmt/del/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
      await expectError(await fetch(`${url}/v2/mgmt/del/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
      await expectError(await fetch(`${url}/v2/mgmt/del/manifests/one`), 404, 'MANIFEST_UNKNOWN');
      await expectError(await fetch(`${url}/v2/mgmt/del/manifests/one`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await fetch(`${url}/v2/mgmt/del/blobs/${image.layer}`, { method: 'DELETE' })).status, 202);
      const gone = await fetch(`${url}/v2/mgmt/del/blobs/${image.layer}`);
      await expectError(gone, 404, 'BLOB_UNKNOWN');
      await expectError(
        await fetch(`${url}/v2/mgmt/del/blobs/${image.layer}`, { method: 'DELETE' }),
        404,
        'BLOB_UNKNOWN',
      );
    });

    it('answers UNSUPPORTED when deletes are off and for unknown methods', async () => {
      const locked = await testRegistry({ deletes: false });
      try {
        const image = await putImage(locked.url, 'mgmt/locked', 'v');
        await expectError(
          await fetch(`${locked.url}/v2/mgmt/locked/manifests/${image.digest}`, { method: 'DELETE' }),
          405,
          'UNSUPPORTED',
        );
        await expectError(
          await fetch(`${locked.url}/v2/mgmt/locked/tags/list`, { method: 'POST' }),
          405,
          'UNSUPPORTED',
        );
      } finally {
        await locked.dispose();
      }
    });
  });

  describe('names and digests', () => {
    const raw = (path: string, method = 'GET'): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const { hostname, port } = new URL(url);
        // an options object, not a URL: the path must reach the server unnormalised
        const req = request({ host: hostname, port, path, method }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });

    for (const path of [
      '/v2/Upper/tags/list',
      '/v2/a/../../etc/tags/list',
      '/v2/../blobs/uploads/',
      '/v2/a/%2e%2e/b/tags/list',
      '/v2/a//b/tags/list',
      '/v2/-a/manifests/latest',
      '/v2/a/../../../../etc/passwd',
    ]) {
      it(`refuses the name in ${path} with NAME_INVALID`, async () => {
        const res = await raw(path);
        assert.equal(res.status, 400, res.body);
        assert.equal((JSON.parse(res.body) as { errors: Array<{ code: string }> }).errors[0]?.code, 'NAME_INVALID');
      });
    }

    for (const digest of [
      'sha256:../../../etc/passwd',
      'sha256:abc',
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      `sha256:${'A'.repeat(64)}`,
    ]) {
      it(`refuses the digest ${digest} with DIGEST_INVALID`, async () => {
        const res = await raw(`/v2/ok/blobs/${encodeURI(digest).replace(/\//g, '%2F')}`);
        assert.equal(res.status, 400, res.body);
        assert.equal((JSON.parse(res.body) as { errors: Array<{ code: string }> }).errors[0]?.code, 'DIGEST_INVALID');
      });
    }
  });
});
