import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AccessEntry, AccessLog, BATCH_MAX } from './access-log';

function entry(i: number, path = '/'): AccessEntry {
  return {
    time: new Date(0).toISOString(),
    requestId: `r${i}`,
    app: 'web',
    host: 'web.localhost',
    method: 'GET',
    path,
    status: 200,
    backend: '10.0.0.1:5000',
    durationMs: 0.5,
    bytes: 10,
    remote: '127.0.0.1',
  };
}

describe('AccessLog', () => {
  it('gathers the lines of several event-loop turns into one write once its wait is over', async () => {
    const writes: string[] = [];
    const log = new AccessLog((chunk) => writes.push(chunk), 40);
    for (let i = 0; i < 5; i++) {
      log.log(entry(i));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(writes.length, 0);
    await sleep(80);
    assert.equal(writes.length, 1);
    const lines = (writes[0] as string).split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as AccessEntry).requestId),
      ['r0', 'r1', 'r2', 'r3', 'r4'],
    );
  });

  it('never writes more than 4 KiB at once, and never splits a line', async () => {
    const writes: string[] = [];
    const log = new AccessLog((chunk) => writes.push(chunk), 10_000);
    for (let i = 0; i < 100; i++) log.log(entry(i, `/${'x'.repeat(i * 3)}`));
    log.flush();
    assert.ok(writes.length > 1);
    let n = 0;
    for (const chunk of writes) {
      assert.ok(chunk.length <= BATCH_MAX, `a write of ${chunk.length} bytes`);
      assert.ok(chunk.endsWith('\n'));
      for (const line of chunk.slice(0, -1).split('\n'))
        assert.equal((JSON.parse(line) as AccessEntry).requestId, `r${n++}`);
    }
    assert.equal(n, 100);
  });

  it('writes what is gathered on flush, and nothing after', async () => {
    const writes: string[] = [];
    const log = new AccessLog((chunk) => writes.push(chunk), 20);
    log.log(entry(1));
    log.flush();
    assert.equal(writes.length, 1);
    await sleep(50);
    assert.equal(writes.length, 1);
    log.flush();
    assert.equal(writes.length, 1);
  });

  it('escapes what clients send, so that a line stays one JSON object', async () => {
    const writes: string[] = [];
    const log = new AccessLog((chunk) => writes.push(chunk));
    log.log({ ...entry(1, '/a"b\n{"status":500}'), host: 'x\\y' });
    log.flush();
    const lines = (writes[0] as string).split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    const parsed = JSON.parse(lines[0] as string) as AccessEntry;
    assert.equal(parsed.path, '/a"b\n{"status":500}');
    assert.equal(parsed.status, 200);
  });
});
