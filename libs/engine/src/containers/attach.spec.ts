import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  FRAME_MAX_PAYLOAD,
  FrameDecoder,
  connectTerminal,
  dataFrames,
  encodeFrame,
  isConsoleSize,
  resizeFrame,
} from './attach';

describe('attach frames', () => {
  it("encodes the shim's framing: type byte, big-endian u16 length, payload", () => {
    assert.deepEqual(encodeFrame('d', Buffer.from('hi')), Buffer.from([0x64, 0, 2, 0x68, 0x69]));
    assert.deepEqual(resizeFrame({ rows: 40, cols: 300 }), Buffer.from([0x77, 0, 4, 0, 40, 1, 44]));
    assert.deepEqual(encodeFrame('x'), Buffer.from([0x78, 0, 0]));
  });

  it('splits typed input into frames of at most 4096 bytes, in order', () => {
    const data = Buffer.alloc(FRAME_MAX_PAYLOAD * 2 + 10, 'a');
    data[FRAME_MAX_PAYLOAD] = 0x62;
    const frames = new FrameDecoder().push(dataFrames(data));
    assert.deepEqual(
      frames.map((f) => [f.type, f.payload.length]),
      [
        ['d', 4096],
        ['d', 4096],
        ['d', 10],
      ],
    );
    assert.equal(frames[1]?.payload[0], 0x62);
    assert.deepEqual(dataFrames(Buffer.alloc(0)), Buffer.alloc(0));
  });

  it('decodes frames however the stream cuts them', () => {
    const bytes = Buffer.concat([encodeFrame('d', Buffer.from('hello')), resizeFrame({ rows: 1, cols: 65535 })]);
    const decoder = new FrameDecoder();
    const frames = [...bytes].flatMap((b) => decoder.push(Buffer.from([b])));
    assert.deepEqual(
      frames.map((f) => [f.type, f.payload.toString('hex')]),
      [
        ['d', Buffer.from('hello').toString('hex')],
        ['w', '0001ffff'],
      ],
    );
    assert.equal(decoder.buffered, 0);
  });

  it('refuses what the shim refuses: a payload over 4096 bytes, a size out of u16 range', () => {
    assert.throws(() => encodeFrame('d', Buffer.alloc(4097)), /at most 4096/);
    assert.throws(() => new FrameDecoder().push(Buffer.from([0x64, 0x10, 0x01])), /4097 bytes: at most 4096/);
    for (const size of [
      { rows: 0, cols: 80 },
      { rows: 24, cols: 65536 },
      { rows: 1.5, cols: 80 },
    ]) {
      assert.equal(isConsoleSize(size), false, JSON.stringify(size));
      assert.throws(() => resizeFrame(size), /rows and columns from 1 to 65535/);
    }
    assert.equal(isConsoleSize({ rows: 24 }), false);
  });
});

describe('connectTerminal', () => {
  // a stand-in for the shim's attach socket: records the frames, answers with output
  let dir: string;
  let server: Server;
  let received: FrameDecoder;
  let frames: Array<{ type: string; payload: string }>;
  let client: Socket | undefined;
  let ended: Promise<void>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-attach-'));
    server = createServer({ allowHalfOpen: true }, (socket) => {
      client = socket;
      received = new FrameDecoder();
      frames = [];
      ended = new Promise((resolve) => socket.once('end', resolve));
      socket.on('data', (chunk) => {
        for (const f of received.push(chunk)) frames.push({ type: f.type, payload: f.payload.toString('hex') });
      });
      socket.write('prompt$ ');
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'attach.sock'), resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('types and resizes in order, reads the output until the shim closes', async () => {
    const terminal = await connectTerminal(join(dir, 'attach.sock'));
    const output: Buffer[] = [];
    terminal.output.on('data', (c: Buffer) => output.push(c));
    const outputEnded = new Promise((resolve) => terminal.output.once('end', resolve));
    terminal.resize({ rows: 30, cols: 100 });
    terminal.input.write('ls\r');
    terminal.endInput(); // half-closed: the output still comes
    await ended;
    client?.end('done\r\n');
    await outputEnded;
    assert.deepEqual(frames, [
      { type: 'w', payload: '001e0064' },
      { type: 'd', payload: Buffer.from('ls\r').toString('hex') },
    ]);
    assert.equal(Buffer.concat(output).toString(), 'prompt$ done\r\n');
    terminal.close();
  });

  it("rejects with the socket's error when nothing listens", async () => {
    await assert.rejects(connectTerminal(join(dir, 'none.sock')), { code: 'ENOENT' });
  });
});
