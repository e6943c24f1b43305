import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WORKSPACE, paas } from '../support/cli';

describe('bin/paas', () => {
  const { version } = JSON.parse(readFileSync(join(WORKSPACE, 'package.json'), 'utf8')) as { version: string };

  it('prints the release version from the bundle', () => {
    const r = paas(['version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^paas version ${version.replace(/\./g, '\\.')}, node `));
  });

  it('exits 2 with a clear error for an unknown command', () => {
    const r = paas(['nosuch']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, "paas: 'nosuch' is not a paas command.\nSee 'paas help'.\n");
  });

  it('prints help with the commands', () => {
    const r = paas(['help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Commands:[\s\S]*version[\s\S]*up/);
  });
});
