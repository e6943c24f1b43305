import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetachKeys } from './terminal';

describe('DetachKeys', () => {
  const feed = (keys: DetachKeys, bytes: number[]) => {
    const { forward, detach } = keys.feed(Buffer.from(bytes));
    return { forward: [...forward], detach };
  };

  it('detaches on ctrl-p ctrl-q, sending what came before it and nothing after', () => {
    assert.deepEqual(feed(new DetachKeys(), [0x61, 0x10, 0x11, 0x62]), { forward: [0x61], detach: true });
  });

  it('finds the sequence across chunks, holding the ctrl-p back until the next key', () => {
    const keys = new DetachKeys();
    assert.deepEqual(feed(keys, [0x61, 0x10]), { forward: [0x61], detach: false });
    assert.deepEqual(feed(keys, [0x11]), { forward: [], detach: true });
  });

  it('sends a ctrl-p on when another key follows it, as docker does', () => {
    const keys = new DetachKeys();
    assert.deepEqual(feed(keys, [0x10]), { forward: [], detach: false });
    assert.deepEqual(feed(keys, [0x61]), { forward: [0x10, 0x61], detach: false });
    assert.deepEqual(feed(keys, [0x10, 0x10, 0x11]), { forward: [0x10], detach: true });
    assert.deepEqual(feed(new DetachKeys(), [0x11, 0x03]), { forward: [0x11, 0x03], detach: false });
  });
});
