/**
 * Host devices, tried from inside a container: the default capabilities include CAP_MKNOD
 * (as Docker's do), so a process can make a node for any device number, and an image layer
 * can carry device nodes. What stops it is the device cgroup: every device denied but the
 * harmless defaults. The host's "disk" here is a loop device over a file with a secret (the
 * machine's real disk cannot be opened even by root in this sandbox), which a container must
 * not read, neither from `paas run` nor from a build's RUN step; `--privileged` may, as
 * with Docker.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupsLeftSince, cliFor, mountsUnder, tempRoots } from '../support/cli';

const startedAt = Date.now();
const roots = tempRoots();
const base = join(roots.root, '..');
const { run, ok } = cliFor(roots.env);
const secret = `DISK-${randomBytes(8).toString('hex')}`;
let loop = '';
let major = 0;
let minor = 0;

/** A shell line that makes a node for the loop device and reads the start of it. */
const readDisk = (): string =>
  `mknod /tmp/disk b ${major} ${minor} && head -c ${secret.length} /tmp/disk; echo; echo "exit=$?"`;

before(() => {
  ok('image', 'bootstrap', 'busybox');
  mkdirSync(base, { recursive: true });
  const file = join(base, 'disk.img');
  writeFileSync(file, Buffer.concat([Buffer.from(secret), Buffer.alloc(1024 * 1024 - secret.length)]));
  loop = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  const rdev = statSync(loop).rdev;
  major = Math.floor(rdev / 256);
  minor = rdev % 256;
  // the host itself reads it: the test's premise
  assert.equal(execFileSync('head', ['-c', String(secret.length), loop], { encoding: 'utf8' }), secret);
});

after(() => {
  if (loop) execFileSync('losetup', ['--detach', loop]);
  const left = { mounts: mountsUnder(roots.root), cgroups: cgroupsLeftSince(startedAt) };
  roots.cleanup();
  assert.deepEqual(left, { mounts: [], cgroups: [] });
});

describe('a container never opens a host device', () => {
  it('paas run: mknod of the host disk succeeds (CAP_MKNOD) but opening it is refused', () => {
    const r = run('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', readDisk());
    assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), `the container read the host disk:\n${r.stdout}`);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it('the same with every capability a user can add but --privileged', () => {
    const r = run('run', '--rm', '--network', 'none', '--cap-add', 'ALL', 'busybox', 'sh', '-c', readDisk());
    assert.match(r.stdout, /exit=/, `the container did not run:\n${r.stderr}`);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), `the container read the host disk:\n${r.stdout}`);
  });

  it('a build RUN step cannot either', () => {
    const dir = join(base, 'ctx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), `FROM busybox\nRUN ${readDisk()} > /read.txt\nRUN cat /read.txt\n`);
    const r = run('build', '-t', 'devices:latest', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), `the build read the host disk:\n${r.stdout}`);
  });

  it('--privileged may, as with Docker', () => {
    const out = ok('run', '--rm', '--network', 'none', '--privileged', 'busybox', 'sh', '-c', readDisk());
    assert.ok(out.includes(secret), out);
  });
});
