import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LogLine, readLogs } from './logs';

const rec = (l: string, s = 'stdout', p = false, t = '2026-11-27T10:00:00.000000000Z'): string =>
  `${JSON.stringify({ t, s, l, ...(p ? { p: true } : {}) })}\n`;

async function collect(gen: AsyncGenerator<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of gen) out.push(`${line.stream}:${line.text}${line.newline ? '' : '(no newline)'}`);
  return out;
}

describe('readLogs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-logs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('joins partial records, keeps streams apart, and reads rotated files oldest first', async () => {
    const path = join(dir, 'a.log');
    writeFileSync(`${path}.1`, rec('old'));
    writeFileSync(path, rec('he', 'stdout', true) + rec('err', 'stderr') + rec('llo') + rec('tail', 'stdout', true));
    assert.deepEqual(await collect(readLogs(path)), [
      'stdout:old',
      'stderr:err',
      'stdout:hello',
      'stdout:tail(no newline)',
    ]);
  });

  it('honours --tail and --since, and skips a torn last line', async () => {
    const path = join(dir, 'b.log');
    writeFileSync(
      path,
      rec('1', 'stdout', false, '2026-11-27T10:00:01Z') + rec('2', 'stdout', false, '2026-11-27T10:00:02Z') + '{"t":',
    );
    assert.deepEqual(await collect(readLogs(path, { tail: 1 })), ['stdout:2']);
    assert.deepEqual(await collect(readLogs(path, { tail: 0 })), []);
    assert.deepEqual(await collect(readLogs(path, { since: '2026-11-27T10:00:02Z' })), ['stdout:2']);
    await assert.rejects(readLogs(path, { since: 'yesterday' }).next(), /invalid value for "since": yesterday/);
  });

  it('follows appends until the writer stops, losing and repeating nothing', async () => {
    const path = join(dir, 'c.log');
    writeFileSync(path, rec('first'));
    let stop!: () => void;
    const until = new Promise<void>((resolve) => (stop = resolve));
    const lines = collect(readLogs(path, { follow: true, until }));
    for (let i = 0; i < 50; i++) {
      appendFileSync(path, rec(`line ${i}`));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    appendFileSync(path, rec('last'));
    stop();
    const got = await lines;
    assert.deepEqual(got, ['stdout:first', ...Array.from({ length: 50 }, (_, i) => `stdout:line ${i}`), 'stdout:last']);
  });
});
