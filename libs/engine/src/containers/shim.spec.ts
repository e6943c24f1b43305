import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resetStateDir } from './shim';

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
