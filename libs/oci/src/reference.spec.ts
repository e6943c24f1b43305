import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidReferenceError,
  familiarName,
  familiarString,
  formatReference,
  parseNormalizedReference,
  parseReference,
} from './reference';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('references', () => {
  const normalized: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['node:20', 'docker.io/library/node:20'],
    ['node:20-slim', 'docker.io/library/node:20-slim'],
    ['docker.io/node:20', 'docker.io/library/node:20'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['myuser/app:v1', 'docker.io/myuser/app:v1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/ns/name:tag', 'localhost:5000/ns/name:tag'],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000/a/b/c:latest'],
    ['[::1]:5000/app:x', '[::1]:5000/app:x'],
    [`host:5000/ns/name:tag@${DIGEST}`, `host:5000/ns/name:tag@${DIGEST}`],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    ['a__b/c-d--e.f_g:T_1.0-x', 'docker.io/a__b/c-d--e.f_g:T_1.0-x'],
  ];
  for (const [input, expected] of normalized) {
    it(`normalises ${input}`, () => {
      assert.equal(formatReference(parseNormalizedReference(input)), expected);
    });
  }

  it('keeps a missing tag missing when not normalising', () => {
    assert.equal(parseReference('busybox').tag, undefined);
  });

  it('shows familiar names as Docker does', () => {
    assert.equal(familiarName(parseReference('docker.io/library/busybox')), 'busybox');
    assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
    assert.equal(familiarName(parseReference('myuser/app')), 'myuser/app');
    assert.equal(familiarString(parseNormalizedReference('127.0.0.1:5000/app')), '127.0.0.1:5000/app:latest');
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty reference/],
    ['BusyBox', /must be lowercase/],
    ['busybox:', /invalid tag ""/],
    ['busybox:-x', /invalid tag/],
    [`busybox:${'t'.repeat(129)}`, /invalid tag/],
    ['busy box', /invalid repository name component/],
    ['a//b', /invalid repository name component ""/],
    ['-a/b', /invalid repository name component "-a"/],
    ['a_/b', /invalid repository name component "a_"/],
    ['a...b', /invalid repository name component/],
    ['busybox@sha256:123', /invalid digest/],
    ['busybox@md5:' + 'a'.repeat(32), /unsupported algorithm md5/],
    ['host:port/app', /invalid port/],
    ['bad_host.com/app', /invalid registry host/],
    ['-host.com/app', /invalid registry host/],
    [':tag', /missing repository name/],
    ['a/' + 'b'.repeat(260), /longer than 255/],
    ['../../etc/passwd', /invalid registry host ".."/],
    ['a/../../b', /invalid repository name component ".."/],
  ];
  for (const [input, reason] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '...' : input)}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) => err instanceof InvalidReferenceError && reason.test(err.message),
      );
    });
  }
});
