import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envProblem, isAppName, isConfigValue, isRoutableAppName } from './names';

describe('names', () => {
  it('app names are DNS labels of at least two characters (docs/api.md); routes keep older one-letter apps', () => {
    for (const name of ['ab', 'a1', 'my-app', `a${'b'.repeat(62)}`]) assert.ok(isAppName(name), name);
    for (const name of ['a', '', '..', 'a/b', 'ab\0', 'ab\n', 'Ab', '1a', 'ab-', `a${'b'.repeat(63)}`])
      assert.ok(!isAppName(name), JSON.stringify(name));
    assert.ok(isRoutableAppName('a'));
    assert.ok(!isRoutableAppName('..'));
  });

  it('config values are strings an environment can hold: no NUL, at most 32 KiB', () => {
    assert.ok(isConfigValue('line 1\nline 2\r\n\t\u001b'));
    assert.ok(isConfigValue(''));
    for (const value of ['a\0b', '\0', 'x'.repeat(32 * 1024 + 1), 42, null]) assert.ok(!isConfigValue(value));
  });

  it('says why an environment cannot be given to a process', () => {
    assert.equal(envProblem({ A: 'x\ny', B: '' }), null);
    assert.equal(
      envProblem({ A: 'ok', SECRET: 'a\0b' }),
      'config var SECRET holds a NUL byte, which no environment can hold',
    );
    assert.match(envProblem({ 'A=B': 'x' }) ?? '', /config var "A=B" is not an environment variable name/);
  });
});
