import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNormalizedReference } from '@paas/oci';
import { MirrorConfigError, parseMirrors, pullEndpoints } from './mirrors';

describe('registry mirrors', () => {
  it('parses the list in order, trims, drops empties and duplicates and trailing slashes', () => {
    assert.deepEqual(parseMirrors(' http://127.0.0.1:5001/ ,,https://mirror.example,http://127.0.0.1:5001'), [
      'http://127.0.0.1:5001',
      'https://mirror.example',
    ]);
    assert.deepEqual(parseMirrors(undefined), []);
    assert.deepEqual(parseMirrors(''), []);
  });

  it('refuses an entry that is not a base URL, naming the entry', () => {
    for (const [value, reason] of [
      ['127.0.0.1:5001', /entry 1 "127.0.0.1:5001" (is not a URL|must start with http)/],
      ['http://a.example,ftp://b.example', /entry 2 "ftp:\/\/b.example" must start with http:\/\/ or https:\/\//],
      ['http://a.example/v2/', /entry 1 "http:\/\/a.example\/v2\/" must be a registry's base URL/],
      ['http://u:p@a.example', /without path, query or login/],
      ['not a url', /entry 1 "not a url" is not a URL/],
    ] as const) {
      assert.throws(
        () => parseMirrors(value),
        (err: unknown) => err instanceof MirrorConfigError && reason.test(err.message),
        value,
      );
    }
  });

  it('tries the mirrors in order, then the origin, for Docker Hub images only', () => {
    const mirrors = ['http://127.0.0.1:5001', 'http://127.0.0.1:5002'];
    for (const name of ['busybox', 'node:20', 'docker.io/library/node:20', 'index.docker.io/team/app:1']) {
      assert.deepEqual(pullEndpoints(parseNormalizedReference(name).domain, mirrors), [
        { kind: 'mirror', url: 'http://127.0.0.1:5001' },
        { kind: 'mirror', url: 'http://127.0.0.1:5002' },
        { kind: 'origin' },
      ]);
    }
    for (const name of ['127.0.0.1:5000/app:v1', 'ghcr.io/team/app', 'localhost/app']) {
      assert.deepEqual(pullEndpoints(parseNormalizedReference(name).domain, mirrors), [{ kind: 'origin' }], name);
    }
    assert.deepEqual(pullEndpoints('docker.io', []), [{ kind: 'origin' }]);
  });
});
