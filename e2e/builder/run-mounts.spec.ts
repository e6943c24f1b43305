/**
 * `RUN --mount` through the real `paas build` (paas-runtime, overlayfs) in a temporary
 * PAAS_ROOT with the busybox base image: a cache mount outlives its build and is seen by a
 * later build whose step changed, but never enters a layer; a cache id cannot name a path
 * outside the platform's cache directory; context binds are read-only and part of the key;
 * tmpfs mounts leave nothing; secret mounts are refused by name; `builder prune` empties the
 * caches (asking first, as Docker), `-a` the step cache too. Nothing is left mounted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, tempRoots } from '../support/cli';

const roots = tempRoots();
const base = join(roots.root, '..');
const { run, ok } = cliFor(roots.env);

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(base, 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

function build(tag: string, dockerfile: string, files: Record<string, string> = {}): string {
  return ok('build', '-t', tag, context({ Dockerfile: dockerfile, ...files }));
}

/** Every path below `dir` whose name is `name`. */
function find(dir: string, name: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name === name) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

const inImage = (tag: string, script: string): string =>
  ok('run', '--rm', '--network', 'none', tag, 'sh', '-c', script);

before(() => {
  ok('image', 'bootstrap', 'busybox');
});

after(() => {
  const mounts = mountsUnder(roots.root);
  roots.cleanup();
  assert.deepEqual(mounts, [], 'the builds left mounts behind');
});

describe('RUN --mount=type=cache', () => {
  it('keeps what a step wrote for a later build whose step changed, outside the layer', () => {
    build('cache:1', 'FROM busybox\nRUN --mount=type=cache,target=/cache,id=c echo one >> /cache/log\n');
    const second = build(
      'cache:2',
      'FROM busybox\nRUN --mount=type=cache,target=/cache,id=c cat /cache/log > /seen && echo two >> /cache/log\n',
    );
    assert.doesNotMatch(second, /Using cache/);
    assert.equal(inImage('cache:2', 'cat /seen'), 'one\n');
    // the mount point stays (as BuildKit's), its content never enters a layer
    assert.equal(inImage('cache:1', 'ls -A /cache'), '');
    assert.equal(inImage('cache:2', 'ls -A /cache'), '');
    // without an id the target is the id: a cache of its own, shared by steps naming the same target
    build('cache:3', 'FROM busybox\nRUN --mount=type=cache,target=/cache echo three >> /cache/log\n');
    build('cache:4', 'FROM busybox\nRUN --mount=type=cache,target=/cache cat /cache/log > /seen\n');
    assert.equal(inImage('cache:4', 'cat /seen'), 'three\n');
  });

  it('cannot leave the platform cache directory through its id', () => {
    build(
      'escape:1',
      'FROM busybox\nRUN --mount=type=cache,target=/c,id=../../../../escaped-cache touch /c/escaped-marker\n',
    );
    const found = find(base, 'escaped-marker');
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(
      found[0] ?? '',
      new RegExp(`^${join(roots.root, 'builder', 'cache-mounts')}/[0-9a-f]{64}/escaped-marker$`),
    );
    assert.deepEqual(find(base, 'escaped-cache'), []);
  });
});

describe('RUN --mount of other types', () => {
  it('binds context files read-only, their content in the step key', () => {
    const dockerfile =
      'FROM busybox\nRUN --mount=type=bind,source=data,target=/data cat /data/x > /copy && ! touch /data/y 2>/dev/null\n';
    build('bind:1', dockerfile, { 'data/x': 'first\n' });
    assert.equal(inImage('bind:1', 'cat /copy; ls -A /data'), 'first\n');
    const again = build('bind:2', dockerfile, { 'data/x': 'second\n' });
    assert.doesNotMatch(again, /Using cache/);
    assert.equal(inImage('bind:2', 'cat /copy'), 'second\n');
    assert.match(build('bind:3', dockerfile, { 'data/x': 'second\n' }), /Using cache/);
  });

  it('mounts a tmpfs that leaves nothing in the image', () => {
    build('tmpfs:1', 'FROM busybox\nRUN --mount=type=tmpfs,target=/t echo hi > /t/f && cat /t/f > /out\n');
    assert.equal(inImage('tmpfs:1', 'cat /out; ls -A /t'), 'hi\n');
  });

  it('refuses a secret mount naming its type, and a missing bind source naming the path', () => {
    const secret = run(
      'build',
      context({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc\n' }),
    );
    assert.equal(secret.status, 1);
    assert.match(secret.stderr, /RUN --mount=type=secret: secret mounts are not supported by this builder/);
    const missing = run(
      'build',
      context({ Dockerfile: 'FROM busybox\nRUN --mount=type=bind,source=nope,target=/n true\n' }),
    );
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /source=nope failed: file not found in build context/);
  });
});

describe('builder prune', () => {
  const mounts = (): string[] => readdirSync(join(roots.root, 'builder', 'cache-mounts'));

  it('asks first: without a terminal and without -f it removes nothing', () => {
    build('prune:1', 'FROM busybox\nRUN --mount=type=cache,target=/cache,id=p echo kept >> /cache/log\n');
    const before = mounts();
    const asked = run('builder', 'prune');
    assert.equal(asked.status, 0, asked.stderr);
    assert.match(
      asked.stderr,
      /WARNING! This will remove all dangling build cache\.\nAre you sure you want to continue\? \[y\/N\] \nnot a terminal: pass -f to confirm/,
    );
    assert.deepEqual(mounts(), before);
  });

  it('-f empties the cache mounts: the next build starts from an empty cache, its steps still cached', () => {
    const out = ok('builder', 'prune', '-f');
    assert.match(
      out,
      /^Deleted build cache objects:\n(cache-mount:[0-9a-f]{64}(\.\d+)?\n)+\nTotal reclaimed space: \d/,
    );
    assert.deepEqual(mounts(), []);
    const again = build(
      'prune:2',
      'FROM busybox\nRUN --mount=type=cache,target=/cache,id=p ls -A /cache > /seen; echo new >> /cache/log\n',
    );
    assert.doesNotMatch(again, /Using cache/);
    assert.equal(inImage('prune:2', 'cat /seen'), '');
    assert.match(
      build('prune:1', 'FROM busybox\nRUN --mount=type=cache,target=/cache,id=p echo kept >> /cache/log\n'),
      /Using cache/,
    );
  });

  it('-a -f forgets every step: the same Dockerfile runs its step again', () => {
    const out = ok('builder', 'prune', '-a', '-f');
    assert.match(out, /step:[0-9a-f]{64}\n/);
    const rebuilt = build(
      'prune:1',
      'FROM busybox\nRUN --mount=type=cache,target=/cache,id=p echo kept >> /cache/log\n',
    );
    assert.doesNotMatch(rebuilt, /Using cache/);
    const bad = run('builder', 'prune', '--until', '24h');
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /unknown option '--until'/);
  });
});
