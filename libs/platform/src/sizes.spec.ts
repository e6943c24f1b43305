import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIZE, SIZES, UnknownSizeError, customSize, isSize, parseSize } from './sizes';

describe('sizes', () => {
  it('names resolve to their row; case and blanks do not matter', () => {
    assert.deepEqual(parseSize('basic'), { name: 'basic', memory: 256, cpuShares: 512, cpuQuota: null });
    assert.equal(parseSize(' Standard-1X ').name, 'standard-1x');
    assert.equal(parseSize('nano').cpuQuota, 250);
    assert.ok(isSize(DEFAULT_SIZE));
  });

  it('weight grows with memory: 512 MiB weighs Docker default 1024; the table is ordered', () => {
    assert.equal(parseSize('standard-1x').cpuShares, 1024);
    for (const [i, b] of SIZES.entries()) {
      const a = SIZES[i - 1];
      if (!a) continue;
      assert.ok(a.memory < b.memory && a.cpuShares < b.cpuShares, `${a.name} < ${b.name}`);
      assert.ok(b.cpuShares <= 262_144, `${b.name} within the kernel's cpu.shares`);
    }
  });

  it('a memory amount is a custom size, or the named size of that memory when it has no quota', () => {
    assert.deepEqual(parseSize('300M'), { name: '300M', memory: 300, cpuShares: 600, cpuQuota: null });
    assert.deepEqual(parseSize('300'), parseSize('300mb'));
    assert.equal(parseSize('1G').name, 'standard-2x');
    assert.equal(parseSize('2gib').name, '2048M');
    // nano has a quota: 32M asks for memory only
    assert.deepEqual(parseSize('32M'), customSize(32));
    assert.equal(customSize(32).cpuQuota, null);
  });

  it('refuses what is not a size, listing the sizes', () => {
    for (const bad of ['', 'xl', '15M', '65537M', '65G', '-1', '1.5G', '512K', 'basic2', '9'.repeat(7)]) {
      assert.throws(
        () => parseSize(bad),
        (err: unknown) =>
          err instanceof UnknownSizeError &&
          err.code === 'invalid_params' &&
          err.message.includes(`'${bad}'`) &&
          err.message.includes('nano, micro, basic'),
        bad,
      );
      assert.ok(!isSize(bad));
    }
  });
});
