import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { recordComponent, recordedComponents, startTimeOf, stopRecorded } from './left-behind';

/**
 * A process of our own, ready once it said so, that ends on SIGTERM only if `obeys`; killed at
 * the end whatever happened.
 */
async function child(t: { after(fn: () => void): void }, obeys = true): Promise<ChildProcess> {
  const handler = obeys ? '' : "process.on('SIGTERM', () => {});";
  const proc = spawn(process.execPath, ['-e', `${handler} console.log('ready'); setInterval(() => {}, 1000)`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.after(() => void proc.kill('SIGKILL'));
  await new Promise((resolve) => proc.stdout?.once('data', resolve));
  return proc;
}

const exited = (proc: ChildProcess): Promise<NodeJS.Signals | null> =>
  new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.signalCode);
    else proc.once('exit', (_code, signal) => resolve(signal));
  });

describe('the components a paas up left behind', () => {
  it('stops the recorded processes in stop order, SIGKILL for one that ignores SIGTERM, and forgets them', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'left-behind-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const redis = await child(t);
    const agent = await child(t, false);
    recordComponent(join(dir, 'up'), 'redis', redis.pid ?? 0);
    recordComponent(join(dir, 'up'), 'agent', agent.pid ?? 0);
    assert.deepEqual(
      recordedComponents(join(dir, 'up')).map((c) => c.name),
      ['agent', 'redis'],
    );
    const lines: string[] = [];
    const stopped = await stopRecorded(join(dir, 'up'), (line) => lines.push(line), 300);
    assert.equal(stopped, 2);
    assert.equal(await exited(agent), 'SIGKILL');
    assert.equal(await exited(redis), 'SIGTERM');
    assert.match(lines[0] ?? '', /^stopping agent \(pid \d+\)/);
    assert.equal(existsSync(join(dir, 'up')), false);
  });

  it('never signals a process that only got a recorded pid later', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'left-behind-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // this very process, recorded with another start time: what pid reuse looks like
    const since = Number(startTimeOf(process.pid));
    writeFileSync(join(dir, 'agent.pid'), `${process.pid} ${since + 1}\n`);
    writeFileSync(join(dir, 'api.pid'), `999999999 ${since}\n`);
    assert.deepEqual(recordedComponents(dir), []);
    assert.equal(await stopRecorded(dir, () => undefined), 0);
  });
});
