import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startRegistry } from './start';

describe('startRegistry: its storage', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-registry-start-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const mode = (path: string): number => statSync(path).mode & 0o777;

  it("makes a new root 0700 (every app's release images), and leaves an operator's existing one as it is", async () => {
    const made = join(base, 'new', 'registry');
    const own = join(base, 'srv');
    mkdirSync(own);
    chmodSync(own, 0o755);
    for (const root of [made, own]) {
      const registry = await startRegistry({ root, listen: { host: '127.0.0.1', port: 0 } });
      await registry.close();
    }
    assert.equal(mode(made), 0o700);
    assert.equal(mode(own), 0o755, '--root /srv does not close /srv');
    assert.equal(mode(join(own, 'content')), 0o700, 'the stores below close themselves');
  });
});
