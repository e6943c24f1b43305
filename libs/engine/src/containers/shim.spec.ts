import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { liveShimPid, resetStateDir } from './shim';

describe('resetStateDir', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'paas-shim-state-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("clears the last shim's state but keeps the log and its rotations", async () => {
    const dir = join(root, 'shim');
    mkdirSync(dir);
    for (const f of ['status.json', 'exit.json', 'shim.pid', 'container.pid', 'shim.log', 'state.lock'])
      writeFileSync(join(dir, f), 'x');
    execFileSync('mkfifo', [join(dir, 'stdin')]);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f'), 'x');
    for (const f of ['container.log', 'container.log.1', 'container.log.2']) writeFileSync(join(dir, f), `${f}\n`);
    // look-alikes of a rotation are not the log
    for (const f of ['container.log.tmp', 'container.log.', 'container.logs', 'container.log.1x'])
      writeFileSync(join(dir, f), 'x');

    await resetStateDir(dir, join(dir, 'container.log'));

    assert.deepEqual(readdirSync(dir).sort(), ['container.log', 'container.log.1', 'container.log.2']);
    assert.equal(readFileSync(join(dir, 'container.log.2'), 'utf8'), 'container.log.2\n');
  });

  it('accepts a state directory that does not exist yet (never started)', async () => {
    await resetStateDir(join(root, 'none'), join(root, 'none', 'container.log'));
  });

  it('refuses a log outside the state directory, removing nothing', async () => {
    const dir = join(root, 'other');
    mkdirSync(dir);
    writeFileSync(join(dir, 'status.json'), 'x');
    await assert.rejects(resetStateDir(dir, join(root, 'container.log')), /not in the shim's state directory/);
    assert.deepEqual(readdirSync(dir), ['status.json']);
  });
});

describe('liveShimPid', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'paas-shim-live-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  // a process whose command line names its state directory as a shim's does
  async function fakeShim(stateDirArg: string, pidFileDir: string): Promise<() => void> {
    const child = spawn('sh', ['-c', 'sleep 300 & wait', 'paas-shim', '--state-dir', stateDirArg], {
      stdio: 'ignore',
      detached: true,
    });
    await new Promise((resolve) => child.once('spawn', resolve));
    while (!readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('--state-dir'))
      await new Promise((r) => setTimeout(r, 10));
    writeFileSync(join(pidFileDir, 'shim.pid'), `${child.pid}\n`);
    return () => process.kill(-(child.pid ?? 0), 'SIGKILL');
  }

  it("finds a shim given its directory or an alias of it (a terminal's short path), not another's", async () => {
    const dir = join(root, 'containers', 'c1', 'shim');
    const other = join(root, 'containers', 'c2', 'shim');
    mkdirSync(dir, { recursive: true });
    mkdirSync(other, { recursive: true });
    symlinkSync(dir, join(root, 'alias'));
    for (const given of [dir, join(root, 'alias')]) {
      const stop = await fakeShim(given, dir);
      try {
        assert.equal(typeof (await liveShimPid(dir)), 'number', given);
      } finally {
        stop();
      }
    }
    const stop = await fakeShim(other, dir); // a reused pid: the shim of another directory
    try {
      assert.equal(await liveShimPid(dir), undefined);
    } finally {
      stop();
    }
  });
});
