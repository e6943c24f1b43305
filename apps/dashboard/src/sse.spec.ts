import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PlatformApiError } from './api';
import { type SseMessage, SseParser, readEventStream } from './sse';

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

describe('SseParser', () => {
  it('reads events as the api writes them: data lines, a named end event, ids, comments', () => {
    const text =
      ': keep-alive\n\n' +
      'data: -----> Building hello\n\n' +
      'id: 1-0\ndata: {"t":"x","source":"api","line":"a"}\n\n' +
      'data: first\ndata: second\n\n' +
      'event: end\ndata: {"status":"succeeded"}\n\n';
    assert.deepEqual(parseAll([text]), [
      { event: 'message', data: '-----> Building hello', id: null },
      { event: 'message', data: '{"t":"x","source":"api","line":"a"}', id: '1-0' },
      { event: 'message', data: 'first\nsecond', id: '1-0' },
      { event: 'end', data: '{"status":"succeeded"}', id: '1-0' },
    ]);
  });

  it('gives the same events however the text is cut, CRLF and CR included', () => {
    const text = 'data: one\r\n\r\nevent: end\rdata:two\r\rdata:  three \n\n';
    const expected = [
      { event: 'message', data: 'one', id: null },
      { event: 'end', data: 'two', id: null },
      { event: 'message', data: ' three ', id: null },
    ];
    assert.deepEqual(parseAll([text]), expected);
    for (let i = 1; i < text.length; i++) {
      assert.deepEqual(parseAll([text.slice(0, i), text.slice(i)]), expected, `cut at ${i}`);
    }
    assert.deepEqual(parseAll([...text]), expected, 'one character at a time');
  });

  it('dispatches nothing for an event without data, and keeps an unfinished one', () => {
    assert.deepEqual(parseAll(['event: end\n\n', 'data: half']), []);
    assert.deepEqual(parseAll(['data\n\n']), [{ event: 'message', data: '', id: null }]);
  });
});

describe('readEventStream', () => {
  let server: Server;
  let url: string;
  let seenAuthorization: string | undefined;
  before(async () => {
    server = createServer((req, res) => {
      seenAuthorization = req.headers.authorization;
      if (req.url === '/missing') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 'not_found', message: "build '9' not found" }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      // a line split over two writes, then the end event; the server closes after it
      res.write('data: Step 1/2 : FR');
      setTimeout(() => res.write('OM busybox\n\ndata: Step 2/2\n\n'), 20);
      if (req.url === '/forever') return;
      setTimeout(() => res.end('event: end\ndata: {"status":"succeeded"}\n\n'), 40);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads a stream to its end over real HTTP, sending the stored token', async () => {
    const store = new Map([['paas.token', 'paas_secret']]);
    Object.assign(globalThis, {
      localStorage: {
        getItem: (k: string) => store.get(k) ?? null,
        setItem: () => undefined,
        removeItem: () => undefined,
      },
    });
    try {
      const seen: SseMessage[] = [];
      let opened = false;
      await readEventStream(`${url}/stream`, {
        signal: new AbortController().signal,
        onOpen: () => (opened = true),
        onMessage: (m) => seen.push(m),
      });
      assert.ok(opened);
      assert.equal(seenAuthorization, 'Bearer paas_secret');
      assert.deepEqual(
        seen.map((m) => [m.event, m.data]),
        [
          ['message', 'Step 1/2 : FROM busybox'],
          ['message', 'Step 2/2'],
          ['end', '{"status":"succeeded"}'],
        ],
      );
    } finally {
      delete (globalThis as { localStorage?: unknown }).localStorage;
    }
  });

  it("rejects with the api's error for an error answer", async () => {
    await assert.rejects(
      readEventStream(`${url}/missing`, { signal: new AbortController().signal, onMessage: () => undefined }),
      (err: unknown) => err instanceof PlatformApiError && err.status === 404 && err.message === "build '9' not found",
    );
  });

  it('resolves quietly when aborted mid-stream', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    await readEventStream(`${url}/forever`, {
      signal: controller.signal,
      onMessage: (m) => {
        seen.push(m.data);
        if (seen.length === 2) controller.abort();
      },
    });
    assert.deepEqual(seen, ['Step 1/2 : FROM busybox', 'Step 2/2']);
  });
});
