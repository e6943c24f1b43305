import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ensureDirMode } from './dir-mode';

const modeOf = (path: string): number => statSync(path).mode & 0o7777;

describe('ensureDirMode', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-dir-mode-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes the directory with exactly its mode, whatever the umask; its parents as mkdir -p does', async () => {
    const old = process.umask(0o077);
    try {
      await ensureDirMode(join(dir, 'root', 'containers'), 0o711);
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(join(dir, 'root', 'containers')), 0o711);
    await ensureDirMode(join(dir, 'fresh', 'snapshots'));
    assert.equal(modeOf(join(dir, 'fresh', 'snapshots')), 0o700);
    // a fresh root is not closed because its first store is private
    assert.equal(modeOf(join(dir, 'fresh')), 0o777 & ~old);
  });

  it('tightens a directory an older install made more open, keeping its files, and is idempotent', async () => {
    const snapshots = join(dir, 'snapshots');
    mkdirSync(snapshots);
    chmodSync(snapshots, 0o755);
    writeFileSync(join(snapshots, 'meta.json'), '{}');
    await ensureDirMode(snapshots);
    await ensureDirMode(snapshots);
    assert.equal(modeOf(snapshots), 0o700);
    assert.equal(statSync(join(snapshots, 'meta.json')).isFile(), true);
  });

  it('refuses a file where the directory belongs, naming it', async () => {
    writeFileSync(join(dir, 'volumes'), '');
    await assert.rejects(ensureDirMode(join(dir, 'volumes')), /volumes is not a directory/);
  });
});
