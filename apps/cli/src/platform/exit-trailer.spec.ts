import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitTrailerSplitter } from './exit-trailer';

/** Feeds `chunks` and returns what was let through and the exit status. */
function split(chunks: string[]): { out: string; code: number | undefined } {
  const s = new ExitTrailerSplitter();
  let out = '';
  for (const c of chunks) out += s.push(Buffer.from(c, 'latin1')).toString('latin1');
  const end = s.end();
  return { out: out + end.rest.toString('latin1'), code: end.code };
}

/** Every way of cutting `text` into two chunks gives the same answer. */
function everyCut(text: string): { out: string; code: number | undefined } {
  const whole = split([text]);
  for (let i = 0; i <= text.length; i++) {
    assert.deepEqual(split([text.slice(0, i), text.slice(i)]), whole, `cut at ${i}`);
  }
  return whole;
}

describe('the exit status trailer of a one-off run', () => {
  it('takes the last line off and reads the status', () => {
    assert.deepEqual(everyCut('hello\nworld\npaas-exit-status: 3\n'), { out: 'hello\nworld\n', code: 3 });
    assert.deepEqual(everyCut('paas-exit-status: 0\n'), { out: '', code: 0 });
    assert.deepEqual(everyCut('hi\npaas-exit-status: 42'), { out: 'hi\n', code: 42 });
  });

  it('accepts the NUL spelling, after output with or without a newline', () => {
    assert.deepEqual(everyCut('hello\n\0exit:7\n'), { out: 'hello\n', code: 7 });
    assert.deepEqual(everyCut('no newline\0exit:1'), { out: 'no newline', code: 1 });
  });

  it('lets look-alike lines through', () => {
    assert.deepEqual(everyCut('paas-exit-status: 5\nmore\npaas-exit-status: 0\n'), {
      out: 'paas-exit-status: 5\nmore\n',
      code: 0,
    });
    assert.deepEqual(everyCut('xpaas-exit-status: 5\npaas-exit-status: 1\n'), {
      out: 'xpaas-exit-status: 5\n',
      code: 1,
    });
    assert.deepEqual(everyCut('paas-exit\npaas-exit-status: 2\n'), { out: 'paas-exit\n', code: 2 });
  });

  it('reports a stream that ended without a trailer, giving back what it held', () => {
    assert.deepEqual(everyCut('partial output\npaas-exit-sta'), {
      out: 'partial output\npaas-exit-sta',
      code: undefined,
    });
    assert.deepEqual(everyCut('no trailer at all\n'), { out: 'no trailer at all\n', code: undefined });
    assert.deepEqual(split([]), { out: '', code: undefined });
  });

  it('holds back no more than the possible trailer', () => {
    const s = new ExitTrailerSplitter();
    assert.equal(s.push(Buffer.from('line one\nline tw')).toString(), 'line one\nline tw');
    assert.equal(s.push(Buffer.from('o\npaas-')).toString(), 'o\n');
    assert.equal(s.push(Buffer.from('x\n')).toString(), 'paas-x\n');
  });
});
