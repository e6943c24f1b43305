import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BUILD_LOG_MAX, appendLog } from '../logs';
import { suiteRedis } from '../testing/redis';
import { BuildLog } from './build-log';
import { streamedOutput } from './builds';

describe('a build log on a real redis-server', () => {
  const client = suiteRedis('paas-builds-');
  let redis: Redis;
  before(() => {
    redis = client();
  });

  it('keeps a short output whole, and the platform lines only', async () => {
    for (const line of ['-----> one', '       two']) await appendLog(redis, 'short', 'build', line, BUILD_LOG_MAX);
    await appendLog(redis, 'short', 'api', 'not the build', BUILD_LOG_MAX);
    assert.equal(await streamedOutput(redis, 'short'), '-----> one\n       two\n');
  });

  it("keeps a long output's beginning and its end, where a failure says why", async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const pipeline = redis.pipeline();
    for (const line of lines) pipeline.xadd('long', '*', 't', '0', 's', 'build', 'l', line);
    await pipeline.exec();
    await appendLog(redis, 'long', 'build', ' !     the reason it failed', BUILD_LOG_MAX);
    const out = await streamedOutput(redis, 'long', 4000);
    assert.ok(out.length <= 4100, `${out.length} characters`);
    assert.ok(out.startsWith('line 0\nline 1\n'));
    assert.ok(out.endsWith('line 4999\n !     the reason it failed\n'));
    const gap = /\[(\d+) lines left out: the output was longer than 4000 bytes\]\n/.exec(out);
    assert.ok(gap, out);
    assert.equal(out.split('\n').length - 2 + Number(gap[1]), 5001);
  });

  it('streams at most its budget of a process output, says so once, and keeps its own lines', async () => {
    const log = new BuildLog(redis, 'budget', 1024 * 1024, 10_000, 1000);
    for (let i = 0; i < 100; i++) log.raw(Buffer.from(`${'x'.repeat(99)}\n`));
    log.error('Build failed');
    await log.drain();
    const out = await streamedOutput(redis, 'budget');
    const kept = out.split('\n').filter((l) => l.includes('xxx'));
    assert.equal(kept.length, 9);
    assert.match(out, /\[the build's output passed 1000 bytes: the rest of it is not kept\]\n/);
    assert.equal(out.match(/passed 1000 bytes/g)?.length, 1);
    assert.ok(out.endsWith(' !     Build failed\n'));
  });
});
