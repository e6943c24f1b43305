import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { COPY_SLICE, copyUp } from './copy-up';

const asRoot = process.getuid?.() === 0;

describe('copyUp', () => {
  let dir: string;
  let rootfs: string;
  let data: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-copyup-'));
    rootfs = join(dir, 'rootfs');
    data = join(dir, 'volume', '_data');
    mkdirSync(data, { recursive: true });
    mkdirSync(join(rootfs, 'var', 'lib', 'db', 'sub'), { recursive: true });
    writeFileSync(join(rootfs, 'var', 'lib', 'db', 'seed'), 'seed\n', { mode: 0o640 });
    writeFileSync(join(rootfs, 'var', 'lib', 'db', 'sub', 'run.sh'), '#!/bin/sh\n', { mode: 0o4755 });
    linkSync(join(rootfs, 'var', 'lib', 'db', 'seed'), join(rootfs, 'var', 'lib', 'db', 'seed-link'));
    symlinkSync('seed', join(rootfs, 'var', 'lib', 'db', 'latest'));
    utimesSync(join(rootfs, 'var', 'lib', 'db', 'seed'), 1_000_000, 1_000_000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies the image directory into an empty volume with modes, times and links', async () => {
    assert.equal(await copyUp(rootfs, '/var/lib/db', data), true);
    assert.deepEqual(readdirSync(data).sort(), ['latest', 'seed', 'seed-link', 'sub']);
    assert.equal(readFileSync(join(data, 'seed'), 'utf8'), 'seed\n');
    assert.equal(statSync(join(data, 'seed')).mode & 0o7777, 0o640);
    assert.equal(statSync(join(data, 'seed')).mtimeMs, 1_000_000_000);
    assert.equal(statSync(join(data, 'sub', 'run.sh')).mode & 0o7777, 0o4755, 'set-id bits survive the chown');
    assert.equal(statSync(join(data, 'seed-link')).ino, statSync(join(data, 'seed')).ino, 'a hard link stays one');
    assert.equal(readlinkSync(join(data, 'latest')), 'seed');
  });

  it("gives the volume's root the directory's owner and mode (Docker's copyOwnership)", { skip: !asRoot }, async () => {
    const db = join(rootfs, 'var', 'lib', 'db');
    chownSync(db, 999, 998);
    chownSync(join(db, 'seed'), 999, 998);
    chmodSync(db, 0o700);
    assert.equal(await copyUp(rootfs, '/var/lib/db/', data), true);
    const st = statSync(data);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [999, 998, 0o700]);
    const seed = statSync(join(data, 'seed'));
    assert.deepEqual([seed.uid, seed.gid], [999, 998]);
  });

  it('leaves a volume that has content alone', async () => {
    writeFileSync(join(data, 'mine'), 'x');
    assert.equal(await copyUp(rootfs, '/var/lib/db', data), false);
    assert.deepEqual(readdirSync(data), ['mine']);
  });

  it('copies nothing for a path the image lacks or that is not a directory', async () => {
    assert.equal(await copyUp(rootfs, '/no/such/dir', data), false);
    assert.equal(await copyUp(rootfs, '/var/lib/db/seed', data), false);
    assert.deepEqual(readdirSync(data), []);
  });

  it("resolves the image's symlinks inside the rootfs, never on the host", async () => {
    // /data -> /etc in the image: the image's /etc, not the host's
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc', 'image-file'), 'from the image');
    symlinkSync('/etc', join(rootfs, 'data'));
    assert.equal(await copyUp(rootfs, '/data', data), true);
    assert.deepEqual(readdirSync(data), ['image-file']);
  });

  it('gives the event loop a turn while it copies: a big directory does not stop the process', async () => {
    const many = join(rootfs, 'many');
    mkdirSync(many);
    for (let i = 0; i < COPY_SLICE * 8; i++) writeFileSync(join(many, String(i)), '');
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    try {
      assert.equal(await copyUp(rootfs, '/many', data), true);
    } finally {
      ticking = false;
    }
    assert.equal(readdirSync(data).length, COPY_SLICE * 8);
    // a copy in one go would let the ticker run once, after it
    assert.ok(turns >= 4, `the event loop turned ${turns} times during the copy`);
  });

  it('leaves the volume empty when the copy fails part way', async () => {
    const many = join(rootfs, 'many');
    mkdirSync(many);
    const names = Array.from({ length: COPY_SLICE * 3 }, (_, i) => `d${i}`);
    for (const name of names) mkdirSync(join(many, name));
    // at the copy's first turn of the event loop, files take the names it has yet to make
    setImmediate(() => {
      for (const name of names) if (!existsSync(join(data, name))) writeFileSync(join(data, name), 'in the way');
    });
    await assert.rejects(copyUp(rootfs, '/many', data), /EEXIST/);
    assert.deepEqual(readdirSync(data), []);
  });
});
