import type { LogEntry } from '@paas/platform';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logplexBody, octetFrame, syslogFrames, syslogMessage } from './drain-framing';

const entry = (line: string, source = 'web.1', t = '2026-12-07T06:45:29.123Z'): LogEntry => ({
  id: '1796000000000-0',
  t,
  source,
  line,
});

/** Splits octet-counted frames by their counts, as a receiver does (RFC 6587 3.4.1). */
function unframe(data: string): string[] {
  const bytes = Buffer.from(data, 'utf8');
  const messages: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const space = bytes.indexOf(0x20, at);
    const length = Number(bytes.subarray(at, space).toString('ascii'));
    assert.ok(Number.isInteger(length) && length > 0, `a count at byte ${at}`);
    messages.push(bytes.subarray(space + 1, space + 1 + length).toString('utf8'));
    at = space + 1 + length;
  }
  return messages;
}

describe('drain framing', () => {
  it('writes RFC 5424 with the source as PROCID, as logplex does', () => {
    assert.equal(
      syslogMessage(entry('State changed from starting to up', 'web.3')),
      '<190>1 2026-12-07T06:45:29.123Z host app web.3 - - State changed from starting to up',
    );
    // the platform's events come from `paas`, as Heroku's from `heroku`
    assert.equal(
      syslogMessage(entry('Scaled web to 2', 'api')),
      '<190>1 2026-12-07T06:45:29.123Z host paas api - - Scaled web to 2',
    );
    assert.equal(syslogMessage(entry('GET / 200', 'router')).split(' ')[3], 'paas');
    assert.equal(syslogMessage(entry('one-off', 'run.1')).split(' ')[3], 'app');
    // a header field takes printable US-ASCII only, `-` for none
    assert.equal(syslogMessage(entry('x', 'wéb 1')).split(' ')[4], 'w_b_1');
    assert.equal(syslogMessage(entry('x', '')).split(' ')[4], '-');
    // no usable time from the writer: the stream id's
    assert.equal(syslogMessage(entry('x', 'api', '')).split(' ')[1], new Date(1796000000000).toISOString());
  });

  it('counts octets of UTF-8, not characters', () => {
    assert.equal(octetFrame('héllo ✓'), '10 héllo ✓');
    assert.equal(octetFrame('😀'), '4 😀');
  });

  it('keeps a line with newlines as one message; the counts say where each ends', () => {
    const lines = ['first', 'multi\nline\r\nstack trace', 'ünïcødé ✓ 😀', ''];
    const data = syslogFrames(lines.map((l) => entry(l)));
    assert.deepEqual(
      unframe(data).map((m) => m.split(' - - ')[1]),
      lines,
    );
  });

  it("a logplex body: Heroku's frames, each message ending in a counted newline", () => {
    const body = logplexBody([entry('State changed', 'web.3', '2012-11-30T06:45:29+00:00'), entry('two\nlines ✓')]);
    assert.ok(body.startsWith('66 <190>1 2012-11-30T06:45:29+00:00 host app web.3 - - State changed\n'));
    const messages = unframe(body);
    assert.equal(messages.length, 2);
    assert.ok(messages.every((m) => m.endsWith('\n')));
    assert.equal(messages[1], '<190>1 2026-12-07T06:45:29.123Z host app web.1 - - two\nlines ✓\n');
  });
});
