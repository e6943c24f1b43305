import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { FLUSH, PktLineReader, pkt } from './pkt-line';
import { type CommandHandler, type PushCommand, serveProcReceive } from './proc-receive';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

/** receive-pack's side of the hook protocol, over three pipes. */
function session(handler: CommandHandler) {
  const fromHook = new PassThrough();
  const toHook = new PassThrough();
  const progress = new PassThrough();
  let said = '';
  progress.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const served = serveProcReceive({ fromHook, toHook, progress }, handler);
  return { fromHook, replies: new PktLineReader(toHook), served, said: () => said };
}

describe('serveProcReceive', () => {
  it('negotiates version 1, passes the commands on, and reports ok, ng and fall-through in order', async () => {
    let seen: readonly PushCommand[] = [];
    const s = session(async (commands, progress) => {
      seen = commands;
      progress.line('-----> Building');
      return [{ status: 'ok' }, { status: 'ng', reason: 'build failed' }, { status: 'fall-through' }];
    });
    s.fromHook.write(Buffer.concat([pkt('version=1\0push-options atomic\n'), FLUSH]));
    assert.deepEqual(await s.replies.section(), ['version=1']);
    s.fromHook.write(
      Buffer.concat([
        pkt(`${ZERO} ${A} refs/heads/main\n`),
        pkt(`${A} ${B} refs/heads/master`),
        pkt(`${A} ${B} refs/heads/mainline\n`),
        FLUSH,
      ]),
    );
    assert.deepEqual(await s.replies.section(), [
      'ok refs/heads/main',
      'ng refs/heads/master build failed',
      'ok refs/heads/mainline',
      'option fall-through',
    ]);
    assert.equal(await s.served, 'served');
    assert.deepEqual(seen, [
      { oldId: ZERO, newId: A, ref: 'refs/heads/main' },
      { oldId: A, newId: B, ref: 'refs/heads/master' },
      { oldId: A, newId: B, ref: 'refs/heads/mainline' },
    ]);
    assert.equal(s.said(), '-----> Building\n');
    assert.deepEqual(await s.replies.read(), { kind: 'eof' }, 'the reply stream is closed after the report');
  });

  it('is not-run when receive-pack never starts the hook', async () => {
    const s = session(async () => assert.fail('no commands expected'));
    s.fromHook.end();
    assert.equal(await s.served, 'not-run');
  });

  it('rejects every command when the handler throws, saying why', async () => {
    const s = session(async () => {
      throw new Error('database is gone');
    });
    s.fromHook.write(Buffer.concat([pkt('version=1\n'), FLUSH, pkt(`${A} ${B} refs/heads/main\n`), FLUSH]));
    await s.replies.section();
    assert.deepEqual(await s.replies.section(), ['ng refs/heads/main internal error']);
    assert.equal(s.said(), ' !     database is gone\n');
  });

  it('refuses an unknown protocol version and malformed commands', async () => {
    const v2 = session(async () => []);
    v2.fromHook.write(Buffer.concat([pkt('version=2\n'), FLUSH]));
    await assert.rejects(v2.served, /unsupported protocol "version=2"/);
    const bad = session(async () => []);
    bad.fromHook.write(Buffer.concat([pkt('version=1\n'), FLUSH, pkt('not a command\n'), FLUSH]));
    await assert.rejects(bad.served, /bad command "not a command"/);
  });
});
