import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from '../errors';
import { parseVolumeFilters } from './actions';

describe('volume ls --filter', () => {
  it("takes Docker's keys: name (any), label (every), dangling, driver", () => {
    assert.deepEqual(
      parseVolumeFilters(['name=db', 'name=cache', 'label=tier', 'label=env=prod', 'dangling=1', 'driver=local']),
      { name: ['db', 'cache'], label: ['tier', 'env=prod'], driver: ['local'], dangling: true },
    );
    assert.deepEqual(parseVolumeFilters(['dangling=false']), { dangling: false });
    assert.deepEqual(parseVolumeFilters([]), {});
  });

  it("refuses an unknown key or a dangling value that is not a boolean, with Docker's message", () => {
    for (const [filter, message] of [
      ['colour=red', "invalid filter 'colour'"],
      ['dangling=maybe', "invalid filter 'dangling=maybe'"],
    ] as const) {
      assert.throws(
        () => parseVolumeFilters([filter]),
        (err: unknown) => err instanceof CliError && err.exitCode === 1 && err.message === message,
      );
    }
  });
});
