import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { BUILD_LINE_MAX, BuildLog } from './build-log';

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

  it('cuts an endless line into pieces as it comes, keeping only the screen of a progress bar', async () => {
    const { redis, lines } = capture();
    const log = new BuildLog(redis, 'k');
    const mb = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 8; i++) log.raw(mb); // 8 MiB without a newline
    log.raw(Buffer.from('\n'));
    for (let i = 0; i < 5000; i++) log.raw(Buffer.from(`\r${i} of 5000 `.padEnd(40, '#')));
    await log.drain();
    assert.ok(
      lines.every((l) => l.length <= BUILD_LINE_MAX),
      'a line longer than the maximum',
    );
    assert.equal(lines.slice(0, -1).join('').replace(/ {7}/g, '').length, 8 * 1024 * 1024);
    assert.equal(lines.at(-1), `       ${'\r4999 of 5000 '.padEnd(40, '#').slice(1)}`);
  });

  it('drops and counts lines beyond its backlog when Redis is slower than the build', async () => {
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const redis = {
      xadd: async (...args: string[]) => {
        await gate;
        sent.push(args[args.length - 1] ?? '');
        return '1-0';
      },
    } as unknown as Redis;
    const log = new BuildLog(redis, 'k', 1024 * 1024, 100);
    for (let i = 0; i < 100_000; i++) log.raw(Buffer.from(`y ${i}\n`));
    release();
    await log.drain();
    // the first line went out before the gate; 100 waited; the rest were counted
    assert.equal(sent.length, 1 + 1 + 100);
    assert.equal(sent[0], '       y 0');
    assert.equal(sent[1], '[99899 lines dropped: the build wrote faster than its log is stored]');
    assert.equal(sent.at(-1), '       y 100');
    log.line('after the flood');
    await log.drain();
    assert.equal(sent.at(-1), 'after the flood');
    // the platform's own lines are never dropped, even behind a full backlog
    const gate2 = new Promise<void>((resolve) => (release = resolve));
    (redis as unknown as { xadd: (...a: string[]) => Promise<string> }).xadd = async (...args: string[]) => {
      await gate2;
      sent.push(args[args.length - 1] ?? '');
      return '1-0';
    };
    for (let i = 0; i < 1000; i++) log.raw(Buffer.from(`z ${i}\n`));
    log.error('Build failed');
    release();
    await log.drain();
    assert.equal(sent.at(-1), ' !     Build failed');
  });
});
