import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcfileError, parseProcfile } from './procfile';

describe('parseProcfile', () => {
  it('reads process types in order, skipping blanks and comments, with CRLF and a BOM', () => {
    const text =
      '\uFEFF# processes\r\nweb: node server.js --port $PORT\r\n\r\n  worker:node worker.js  \r\nrelease: ./migrate.sh && echo a:b\n';
    assert.deepEqual(parseProcfile(text), {
      web: 'node server.js --port $PORT',
      worker: 'node worker.js',
      release: './migrate.sh && echo a:b',
    });
    assert.deepEqual(Object.keys(parseProcfile(text)), ['web', 'worker', 'release']);
  });

  it('is empty for an empty file', () => {
    assert.deepEqual(parseProcfile(''), {});
    assert.deepEqual(parseProcfile('\n# nothing\n'), {});
  });

  const bad: Array<[string, RegExp]> = [
    ['web node server.js\n', /^Procfile line 1: expected "TYPE: COMMAND", got "web node server.js"$/],
    ['web: a\n\nweb: b\n', /^Procfile line 3: process type web is declared again \(first on line 1\)$/],
    ['web:\n', /^Procfile line 1: process type web has no command$/],
    ['web:   \n', /^Procfile line 1: process type web has no command$/],
    ['Web: node a.js\n', /^Procfile line 1: "Web" is not a valid process type: a process type/],
    ['# ok\nweb.1: node a.js\n', /^Procfile line 2: "web\.1" is not a valid process type/],
    [': node a.js\n', /^Procfile line 1: expected "TYPE: COMMAND"/],
    [`${'w'.repeat(31)}: x\n`, /is not a valid process type/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseProcfile(text),
        (err: unknown) => err instanceof ProcfileError && message.test(err.message),
      );
    });
  }
});
