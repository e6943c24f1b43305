/**
 * `paas build --userns=auto` through the real CLI, paas-runtime, overlayfs and bridge: every
 * RUN step runs as the root of an unprivileged range (its uid_map says so), on the network
 * as Docker's default steps are, and the image keeps the ids the Dockerfile asked for (0,
 * 1000), never the range's host ids. A cache mount's files are the container's ids on disk.
 * `--userns` takes auto or host only; nothing stays mounted and the build's range goes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, tempRoots } from '../support/cli';

const roots = tempRoots();
const { run, ok } = cliFor(roots.env);

function context(dockerfile: string): string {
  const dir = mkdtempSync(join(roots.root, '..', 'ctx-'));
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
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

describe('paas build --userns', () => {
  it('auto: RUN steps as the root of a range, the image with the ids the Dockerfile asked for', () => {
    const output = ok(
      'build',
      '--userns=auto',
      '-t',
      'ns:1',
      context(
        'FROM busybox\n' +
          'RUN cat /proc/self/uid_map > /map && id -u > /uid && grep -c eth0 /proc/net/dev > /links\n' +
          'RUN --mount=type=cache,target=/cache,id=ns touch /cache/mine' +
          " && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app/data" +
          ' && chown -R app:1000 /home/app\n',
      ),
    );
    assert.doesNotMatch(output, /Warning/);
    const [inside, host, size] = inImage('ns:1', 'cat /map').trim().split(/\s+/).map(Number);
    assert.equal(inside, 0);
    assert.ok((host ?? 0) >= 65536 && size === 65536, `uid_map: ${inImage('ns:1', 'cat /map')}`);
    assert.equal(inImage('ns:1', 'cat /uid'), '0\n');
    assert.equal(inImage('ns:1', 'cat /links'), '1\n', 'the step was on the bridge');
    assert.equal(
      inImage('ns:1', 'stat -c "%n %u:%g" /map /home/app /home/app/data /etc/passwd'),
      '/map 0:0\n/home/app 1000:1000\n/home/app/data 1000:1000\n/etc/passwd 0:0\n',
    );
    const caches = join(roots.root, 'builder', 'cache-mounts');
    const [cache] = readdirSync(caches).filter((n) => /^[0-9a-f]{64}$/.test(n));
    assert.equal(statSync(join(caches, cache ?? '', 'mine')).uid, 0, "the cache holds the container's ids");
    const ranges = JSON.parse(readFileSync(join(roots.root, 'userns', 'ranges.json'), 'utf8')) as {
      ranges: unknown[];
    };
    assert.deepEqual(ranges.ranges, [], "the build's range went back");
  });

  it('host (the default) keeps the host ids, and anything else is refused naming the flag', () => {
    ok('build', '-t', 'ns:2', context('FROM busybox\nRUN cat /proc/self/uid_map > /map\n'));
    assert.equal(inImage('ns:2', 'cat /map').trim().split(/\s+/).join(' '), '0 0 4294967295');
    const bad = run('build', '--userns=remap', context('FROM busybox\n'));
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /invalid --userns "remap": use "auto" or "host"/);
  });
});
