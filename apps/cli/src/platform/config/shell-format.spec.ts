/** Config vars as shell `KEY=value` lines: written by `config --shell` and `config:edit`, read back by config:edit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigFileError, parseShellLines, shellLines } from './shell-format';

describe('config vars as shell lines', () => {
  it('reads back exactly what it writes, whatever the values hold', () => {
    const vars = {
      PLAIN: 'postgres://db:5432/x',
      EMPTY: '',
      SPACES: 'a b  c',
      QUOTES: `it's "quoted"`,
      LINES: 'first\nsecond\n\nlast\n',
      SHELLISH: '$HOME `id` \\ ; & | > # *',
      UNICODE: 'héllo ✓',
      ['__proto__']: 'a key like any other',
    };
    const text = shellLines(vars);
    assert.ok(text.startsWith("EMPTY=''\nLINES='first\nsecond\n\nlast\n'\nPLAIN=postgres://db:5432/x\n"), text);
    const read = parseShellLines(text);
    assert.deepEqual(read, { ...vars });
    assert.equal(Object.hasOwn(read, '__proto__'), true);
    assert.equal(shellLines({}), '');
  });

  it('reads what people write by hand: comments, blank lines, export, double quotes, escapes', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      'export A=1',
      'B="two words \\"and\\" \\$dollar \\\\ back"   # trailing comment',
      'C=mixed\'single quoted\'"double"bare',
      'D=back\\ slashed\\#',
      'E=line\\',
      'continued',
      'F="a',
      'b"',
      'G=',
      '',
    ].join('\n');
    assert.deepEqual(parseShellLines(text), {
      A: '1',
      B: 'two words "and" $dollar \\ back',
      C: 'mixedsingle quoteddoublebare',
      D: 'back slashed#',
      E: 'linecontinued',
      F: 'a\nb',
      G: '',
    });
    assert.deepEqual(parseShellLines('X=1'), { X: '1' }, 'no newline at the end');
  });

  it('says which line does not read and why', () => {
    const cases: Array<[string, RegExp]> = [
      ['A=1\nnot an assignment\n', /^line 2: expected KEY=value, not "not"$/],
      ['A=1\n9LIVES=x\n', /^line 2: "9LIVES" is not an environment variable name/],
      ['A=1\nB-C=x\n', /^line 2: "B-C" is not an environment variable name/],
      ['A=1\n\nA=2\n', /^line 3: A is set twice \(on line 1 too\)$/],
      ["A='multi\nline'\nB=two words\n", /^line 3: unquoted blank space in the value of B: quote the value/],
      ["A=1\nB='never closed\nC=3\n", /^line 2: the ' opened here in the value of B is never closed$/],
      ['A=1\nB="never closed\n', /^line 2: the " opened here in the value of B is never closed$/],
      ['A=1\\', /^line 1: the value of A ends in a lone \\$/],
      ['=value\n', /^line 1: "" is not an environment variable name/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseShellLines(text),
        (err: Error) => err instanceof ConfigFileError && message.test(err.message),
        JSON.stringify(text),
      );
    }
  });
});
