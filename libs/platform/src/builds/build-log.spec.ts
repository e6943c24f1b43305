import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { BuildLog } from './build-log';

/** The lines a BuildLog sent to Redis, in order. */
function capture(): { redis: Redis; lines: string[]; ends: string[] } {
  const lines: string[] = [];
  const ends: string[] = [];
  const redis = {
    xadd: async (...args: string[]) => {
      lines.push(args[args.length - 1] ?? '');
      return '1-0';
    },
    multi: () => ({
      xadd: (...args: string[]) => {
        ends.push(args[args.length - 1] ?? '');
        return { expire: () => ({ exec: async () => [] }) };
      },
    }),
  } as unknown as Redis;
  return { redis, lines, ends };
}

describe('BuildLog', () => {
  it('writes headlines, indented details and errors the way Heroku shows them', async () => {
    const { redis, lines, ends } = capture();
    const log = new BuildLog(redis, 'k');
    log.step('Building demo');
    log.info('Step 1/2 : FROM busybox\n');
    log.error('it broke');
    await log.end('failed');
    assert.deepEqual(lines, ['-----> Building demo', '       Step 1/2 : FROM busybox', '', ' !     it broke']);
    assert.deepEqual(ends, ['failed']);
    assert.equal(log.output, `${lines.join('\n')}\n`);
  });

  it('splits raw output into lines across chunks and UTF-8 boundaries, keeping what a \\r redraw left', async () => {
    const { redis, lines } = capture();
    const log = new BuildLog(redis, 'k');
    const text = Buffer.from('héllo\nworld 10%\rworld 100%\r\nno newline');
    log.raw(text.subarray(0, 2)); // splits the é
    log.raw(text.subarray(2, 20));
    log.raw(text.subarray(20));
    log.line('-----> next'); // a builder line flushes the unfinished raw line first
    await log.drain();
    assert.deepEqual(lines, ['       héllo', '       world 100%', '       no newline', '-----> next']);
  });

  it('caps what it keeps for Build.output but streams every line', async () => {
    const { redis, lines } = capture();
    const log = new BuildLog(redis, 'k', 20);
    for (let i = 0; i < 5; i++) log.line(`line ${i}`);
    await log.drain();
    assert.equal(lines.length, 5);
    assert.equal(log.output, 'line 0\nline 1\n[output truncated at 20 bytes; the rest was only streamed]\n');
  });
});
