import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, sseEvents } from './sse';

async function collect(chunks: (string | Buffer)[]) {
  const events = [];
  async function* body() {
    for (const c of chunks) yield c;
  }
  for await (const e of sseEvents(body())) events.push(e);
  return events;
}

describe('server-sent events', () => {
  it('parses data lines, named events, ids and comments', async () => {
    const events = await collect([
      ': hello\n\n',
      'data: one\n\n',
      'id: 7\nevent: end\ndata: {"status":"succeeded"}\n\n',
    ]);
    assert.deepEqual(events, [
      { event: 'message', data: 'one', id: '' },
      { event: 'end', data: '{"status":"succeeded"}', id: '7' },
    ]);
  });

  it('joins multi-line data and keeps a value without the optional space', async () => {
    assert.deepEqual(await collect(['data:a\ndata:  b\ndata\n\n']), [{ event: 'message', data: 'a\n b\n', id: '' }]);
  });

  it('reassembles events split anywhere, CRLF and CR line ends, and UTF-8 split inside a character', async () => {
    const text = 'data: héllo\r\n\r\ndata: wörld\r\rdata: x\n\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const events = await collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(
        events.map((e) => e.data),
        ['héllo', 'wörld', 'x'],
        `cut at ${cut}`,
      );
    }
  });

  it('drops an event whose blank line never came, and events without data', async () => {
    assert.deepEqual(await collect(['event: end\n\n', 'data: cut off']), []);
    const parser = new SseParser();
    assert.deepEqual(parser.feed('data: a\n'), []);
    assert.deepEqual(parser.feed('\n'), [{ event: 'message', data: 'a', id: '' }]);
  });
});
