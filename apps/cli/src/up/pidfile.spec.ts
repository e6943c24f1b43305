import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { claimPidFile } from './pidfile';

describe('claimPidFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-pidfile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('claims a free file and releases it', () => {
    const path = join(dir, 'up.pid');
    const claim = claimPidFile(path);
    assert.ok('release' in claim);
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
    claim.release();
    assert.equal(existsSync(path), false);
  });

  it('reports a live owner', () => {
    const path = join(dir, 'up.pid');
    writeFileSync(path, `${process.ppid}\n`);
    assert.deepEqual(claimPidFile(path), { owner: process.ppid });
    assert.equal(readFileSync(path, 'utf8'), `${process.ppid}\n`);
  });

  it('takes over a file left by a dead process, or one with garbage in it', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const content of [`${dead}\n`, 'not a pid', '']) {
      const path = join(dir, 'up.pid');
      writeFileSync(path, content);
      const claim = claimPidFile(path);
      assert.ok('release' in claim, JSON.stringify(content));
      claim.release();
    }
  });

  it('does not remove a file another process has claimed since', () => {
    const path = join(dir, 'up.pid');
    const claim = claimPidFile(path);
    assert.ok('release' in claim);
    writeFileSync(path, `${process.ppid}\n`);
    claim.release();
    assert.equal(readFileSync(path, 'utf8'), `${process.ppid}\n`);
  });
});
