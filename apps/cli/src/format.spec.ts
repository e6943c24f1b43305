import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BINARY_UNITS, DECIMAL_UNITS, humanAgo, humanDuration, humanSize, inUnits, shortHex, table } from './format';

describe('format', () => {
  it('prints sizes like Docker', () => {
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
    assert.equal(humanSize(1000), '1kB');
    assert.equal(humanSize(1234), '1.23kB');
    assert.equal(humanSize(4_261_000), '4.26MB');
    assert.equal(humanSize(123_456_789), '123MB');
    assert.equal(humanSize(1_500_000_000), '1.5GB');
  });

  it('scales a size to the largest unit that leaves at least 1, and no further than the last', () => {
    assert.deepEqual(inUnits(0, 1024, BINARY_UNITS), { value: 0, unit: 'B' });
    assert.deepEqual(inUnits(1023, 1024, BINARY_UNITS), { value: 1023, unit: 'B' });
    assert.deepEqual(inUnits(1536, 1024, BINARY_UNITS), { value: 1.5, unit: 'KiB' });
    assert.deepEqual(inUnits(1000, 1000, DECIMAL_UNITS), { value: 1, unit: 'kB' });
    assert.deepEqual(inUnits(1000, 1024, BINARY_UNITS), { value: 1000, unit: 'B' });
    assert.deepEqual(inUnits(2 * 1024 ** 5, 1024, BINARY_UNITS), { value: 2048, unit: 'TiB' });
  });

  it('prints durations like Docker', () => {
    assert.equal(humanDuration(0.5), 'Less than a second');
    assert.equal(humanDuration(1), '1 second');
    assert.equal(humanDuration(59), '59 seconds');
    assert.equal(humanDuration(60), 'About a minute');
    assert.equal(humanDuration(600), '10 minutes');
    assert.equal(humanDuration(3600), 'About an hour');
    assert.equal(humanDuration(5 * 3600), '5 hours');
    assert.equal(humanDuration(3 * 86400), '3 days');
    assert.equal(humanDuration(15 * 86400), '2 weeks');
    assert.equal(humanDuration(90 * 86400), '3 months');
    assert.equal(humanDuration(3 * 365 * 86400), '3 years');
    assert.equal(humanAgo(new Date(Date.now() - 7_200_000)), '2 hours ago');
    assert.equal(humanAgo(undefined), 'N/A');
  });

  it('lays out tables with three spaces between columns', () => {
    assert.equal(
      table(
        ['REPOSITORY', 'TAG', 'SIZE'],
        [
          ['busybox', 'latest', '1MB'],
          ['node', '20', '40MB'],
        ],
      ),
      'REPOSITORY   TAG      SIZE\nbusybox      latest   1MB\nnode         20       40MB\n',
    );
    assert.equal(shortHex(`sha256:${'ab'.repeat(32)}`), 'abababababab');
  });
});
