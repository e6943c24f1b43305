import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { branchSlug, envProblem, isAppName, isConfigValue, isRoutableAppName, reviewAppName } from './names';

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

describe('review app names', () => {
  it('slug a branch by the app-name rules: lower case, [a-z0-9-], runs collapsed, no dash at the ends', () => {
    assert.equal(branchSlug('feature/x'), 'feature-x');
    assert.equal(branchSlug('Feature__X//y.z'), 'feature-x-y-z');
    assert.equal(branchSlug('-/fix-/'), 'fix');
    assert.equal(branchSlug('café-crème'), 'cafe-creme');
    assert.equal(branchSlug('日本語'), '');
  });

  it('are APP--slug when that is an app name', () => {
    assert.equal(reviewAppName('web', 'feature/x'), 'web--feature-x');
    assert.equal(reviewAppName('web', 'Café'), 'web--cafe');
  });

  it('end with a hash of the full branch when asked (a taken name), when nothing is left of the branch, or when too long', () => {
    const hashed = reviewAppName('web', 'feature-x', true);
    assert.match(hashed ?? '', /^web--feature-x-[0-9a-f]{7}$/);
    assert.notEqual(hashed, reviewAppName('web', 'feature/x', true), 'two branches of one slug differ');
    assert.match(reviewAppName('web', '日本語') ?? '', /^web--[0-9a-f]{7}$/);
    assert.notEqual(reviewAppName('web', '日本語'), reviewAppName('web', '中文'));

    const long = `feature/${'a'.repeat(80)}`;
    const name = reviewAppName('web', long) ?? '';
    assert.equal(name.length, 63);
    assert.ok(isAppName(name), name);
    assert.match(name, /^web--feature-a+-[0-9a-f]{7}$/);
    assert.notEqual(name, reviewAppName('web', `${long}b`), 'two long branches of one prefix never collide');
    // a cut that would end on a dash drops it
    const cut = reviewAppName('web', `${'a'.repeat(47)}-${'b'.repeat(20)}`) ?? '';
    assert.ok(isAppName(cut), cut);
  });

  it('are refused (null) when the parent leaves no room for a tail', () => {
    assert.equal(reviewAppName(`a${'b'.repeat(60)}`, 'x'), null);
    assert.ok(reviewAppName(`a${'b'.repeat(52)}`, 'x'), 'short enough for --hash');
  });
});
