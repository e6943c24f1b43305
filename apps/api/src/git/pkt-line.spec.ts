import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { FLUSH, PktLineError, PktLineReader, pkt } from './pkt-line';

describe('pkt-line', () => {
  it('frames payloads with their length in hex, the four digits included', () => {
    assert.equal(pkt('version=1\n').toString(), '000eversion=1\n');
    assert.equal(pkt('').toString(), '0004');
    assert.throws(() => pkt(Buffer.alloc(65517)), /too long/);
  });

  it('reads sections split anywhere across chunks, then eof', async () => {
    const stream = new PassThrough();
    const reader = new PktLineReader(stream);
    const bytes = Buffer.concat([
      pkt('version=1\0push-options\n'),
      FLUSH,
      pkt('a b refs/heads/main'),
      pkt('c d refs/heads/x\n'),
      FLUSH,
    ]);
    for (let i = 0; i < bytes.length; i += 3) stream.write(bytes.subarray(i, i + 3));
    stream.end();
    assert.deepEqual(await reader.section(), ['version=1\0push-options']);
    assert.deepEqual(await reader.section(), ['a b refs/heads/main', 'c d refs/heads/x']);
    assert.deepEqual(await reader.read(), { kind: 'eof' });
    assert.equal(await reader.section(), undefined);
  });

  it('refuses a bad length and a stream cut inside a line', async () => {
    const bad = new PassThrough();
    const reader = new PktLineReader(bad);
    bad.end('zzzz');
    await assert.rejects(reader.read(), PktLineError);
    const cut = new PassThrough();
    const second = new PktLineReader(cut);
    cut.end('0010abc');
    await assert.rejects(second.read(), /ended inside a pkt-line/);
  });
});
