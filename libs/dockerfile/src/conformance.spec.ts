/**
 * BuildKit's own parser golden files, read in place from the shared conformance data (never
 * copied into the project): every `testfiles/<case>` must dump byte for byte like `result`,
 * every `testfiles-negative/<case>` must fail, and `testfile-line` must give BuildKit's ranges.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DockerfileError, dump, parse } from './index';

function findConformanceDir(): string {
  const candidates = [
    process.env['PAAS_CONFORMANCE_DIR'],
    resolve(__dirname, '..', '..', '..', '..', 'shared', 'conformance'),
    '/work/shared/conformance',
  ].filter((c): c is string => typeof c === 'string' && c.length > 0);
  const found = candidates.find((c) => existsSync(join(c, 'dockerfile-parser')));
  if (!found) throw new Error(`the conformance data is missing; looked in ${candidates.join(', ')}`);
  return join(found, 'dockerfile-parser');
}

const DIR = findConformanceDir();
const cases = (sub: string): string[] => readdirSync(join(DIR, sub)).sort();

describe('BuildKit parser golden files (testfiles)', () => {
  for (const name of cases('testfiles')) {
    it(name, () => {
      const text = readFileSync(join(DIR, 'testfiles', name, 'Dockerfile'), 'utf8');
      const expected = readFileSync(join(DIR, 'testfiles', name, 'result'), 'utf8');
      assert.equal(dump(parse(text)), expected);
    });
  }
});

describe('BuildKit parser negative files (testfiles-negative)', () => {
  for (const name of cases('testfiles-negative')) {
    it(name, () => {
      const text = readFileSync(join(DIR, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
      assert.throws(() => parse(text), DockerfileError);
    });
  }
});

describe('BuildKit parser line ranges (testfile-line)', () => {
  it('gives the root and each instruction its lines', () => {
    const tree = parse(readFileSync(join(DIR, 'testfile-line', 'Dockerfile'), 'utf8'));
    assert.deepEqual([tree.startLine, tree.endLine], [5, 31]);
    assert.deepEqual(
      tree.children.map((n) => [n.startLine, n.endLine]),
      [
        [5, 5],
        [11, 12],
        [17, 31],
      ],
    );
  });
});
