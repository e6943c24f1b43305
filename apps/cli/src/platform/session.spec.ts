import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT_USAGE } from '../errors';
import { parseCount } from './session';

describe('parseCount: the count flags of the platform verbs (-n/--num)', () => {
  it('takes decimal digits', () => {
    assert.equal(parseCount('--num', '1'), 1);
    assert.equal(parseCount('--num', '15'), 15);
    assert.equal(parseCount('--num', '007'), 7);
    assert.equal(parseCount('--num', '0', 0), 0);
    assert.equal(parseCount('--num', String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  });

  it('refuses what is not a count as a usage error naming the flag and the value', () => {
    for (const value of ['', ' ', 'abc', '-1', '1.5', '1e3', '0x10', ' 5', '5 ', '+5', 'Infinity', 'NaN', '1_000']) {
      assert.throws(
        () => parseCount('--num', value),
        (err: unknown) =>
          err instanceof CliError &&
          err.exitCode === EXIT_USAGE &&
          err.message === `invalid --num '${value}': expected a positive number`,
        JSON.stringify(value),
      );
    }
  });

  it('refuses 0 unless the verb allows it, and says what it expects', () => {
    assert.throws(() => parseCount('--num', '0'), { message: "invalid --num '0': expected a positive number" });
    assert.throws(() => parseCount('-n', '-1', 0), { message: "invalid -n '-1': expected a number" });
    assert.throws(() => parseCount('--num', '', 0), { message: "invalid --num '': expected a number" });
  });

  it('refuses a count too large to be exact', () => {
    for (const value of [String(Number.MAX_SAFE_INTEGER + 1), '99999999999999999999', '1'.padEnd(400, '0')]) {
      assert.throws(
        () => parseCount('--num', value),
        { message: `invalid --num '${value}': expected at most ${Number.MAX_SAFE_INTEGER}` },
        value.slice(0, 20),
      );
    }
  });
});
