import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, substitute, substituteWords } from './index';

const env = { SET: 'value', EMPTY: '', SPACED: 'a  b', PATH_: '/usr/local/bin/app.tar.gz' };

describe('substitute', () => {
  const cases: [string, string][] = [
    ['$SET', 'value'],
    ['${SET}', 'value'],
    ['pre${SET}post', 'prevaluepost'],
    ['$SET.txt', 'value.txt'],
    ['$UNSET', ''],
    ['${UNSET}', ''],
    ['${UNSET:-default}', 'default'],
    ['${EMPTY:-default}', 'default'],
    ['${EMPTY-default}', ''],
    ['${UNSET-default}', 'default'],
    ['${SET:-default}', 'value'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${SET:?err}', 'value'],
    ['${EMPTY?err}', ''],
    ['${UNSET:-${SET:-x}}', 'value'],
    ['${UNSET:-${ALSO:-nested default}}', 'nested default'],
    ['${UNSET:-"quoted } brace"}', 'quoted } brace'],
    ['\\$SET', '$SET'],
    ['\\${SET}', '${SET}'],
    ["'$SET'", '$SET'],
    ['"$SET"', 'value'],
    ['"\\$SET"', '$SET'],
    ['"a\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['$1', ''],
    ['cost: 5$', 'cost: 5$'],
    ['${PATH_#*/}', 'usr/local/bin/app.tar.gz'],
    ['${PATH_##*/}', 'app.tar.gz'],
    ['${PATH_%.*}', '/usr/local/bin/app.tar'],
    ['${PATH_%%.*}', '/usr/local/bin/app'],
    ['${PATH_/local/opt}', '/usr/opt/bin/app.tar.gz'],
    ['${SET//a/A}', 'vAlue'],
    ['$SPACED', 'a  b'],
  ];
  for (const [word, expected] of cases) {
    it(`${word} -> ${JSON.stringify(expected)}`, () => assert.equal(substitute(word, env), expected));
  }

  it('accepts a Map as the environment and never reads inherited properties', () => {
    assert.equal(substitute('$A-$constructor', new Map([['A', '1']])), '1-');
    assert.equal(substitute('${toString:-none}', {}), 'none');
  });

  it('uses the backtick as escape under escape=`', () => {
    assert.equal(substitute('`$SET c:\\dir', env, { escapeToken: '`' }), '$SET c:\\dir');
  });

  it('splits words after expansion, keeping quoted spaces', () => {
    assert.deepEqual(substituteWords('a "b c" $SPACED', env), ['a', 'b c', 'a', 'b']);
  });

  it('leaves unset references as written with skipUnsetEnv', () => {
    assert.equal(substitute('$UNSET ${UNSET:-x} $SET', env, { skipUnsetEnv: true }), '$UNSET ${UNSET:-x} value');
  });

  const errors: [string, string][] = [
    ['${UNSET:?must be set}', 'UNSET: must be set'],
    ['${UNSET?}', 'UNSET: is not allowed to be unset'],
    ['${EMPTY:?}', 'EMPTY: is not allowed to be empty'],
    ['${SET', "syntax error: missing '}'"],
    ['${', "syntax error: missing '}'"],
    ['${}', 'syntax error: bad substitution'],
    ['${:-x}', 'syntax error: bad substitution'],
    ['${SET!x}', "missing ':' in substitution"],
    ['${SET x}', "missing ':' in substitution"],
    ['${SET:!x}', 'unsupported modifier (:!) in substitution'],
    ['${SET:-x', "syntax error: missing '}'"],
    ['"open', 'unexpected end of statement while looking for matching double-quote'],
    ["'open", 'unexpected end of statement while looking for matching single-quote'],
  ];
  for (const [word, message] of errors) {
    it(`rejects ${word}`, () => {
      assert.throws(
        () => substitute(word, env),
        (err: unknown) => err instanceof DockerfileError && err.message === message && err.offset !== undefined,
      );
    });
  }
});
