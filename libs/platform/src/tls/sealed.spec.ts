import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SealError, ensureSealingKey, loadSealingKey, seal, sealingKeyFile, unseal } from './sealed';

describe('sealed secrets', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-sealed-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('makes one 0600 key per root, the same on every later call', () => {
    const file = sealingKeyFile(join(base, 'root'));
    const key = ensureSealingKey(file);
    assert.equal(key.length, 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
    assert.deepEqual(ensureSealingKey(file), key);
    assert.deepEqual(loadSealingKey(file), key);
  });

  it('opens what it sealed, and nothing changed, sealed elsewhere or for another use', () => {
    const key = ensureSealingKey(sealingKeyFile(join(base, 'a')));
    const other = ensureSealingKey(sealingKeyFile(join(base, 'b')));
    const pem = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
    const sealed = seal(key, pem, 'cert-1');
    assert.match(sealed, /^v1:[A-Za-z0-9+/=]+$/);
    assert.ok(!sealed.includes('abc'));
    assert.notEqual(seal(key, pem, 'cert-1'), sealed, 'a fresh IV each time');
    assert.equal(unseal(key, sealed, 'cert-1'), pem);
    assert.throws(() => unseal(other, sealed, 'cert-1'), SealError);
    assert.throws(() => unseal(key, sealed, 'cert-2'), SealError);
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    assert.throws(() => unseal(key, `v1:${raw.toString('base64')}`, 'cert-1'), /does not open/);
    assert.throws(() => unseal(key, 'plain text', 'cert-1'), /not a sealed value/);
    assert.throws(() => unseal(key, 'v1:AAAA', 'cert-1'), /too short/);
  });

  it('refuses a key file of the wrong size, saying which', () => {
    const file = join(base, 'short.key');
    writeFileSync(file, 'short');
    assert.throws(() => loadSealingKey(file), new RegExp(`${file}: not a sealing key`));
    assert.throws(() => ensureSealingKey(file), SealError);
  });
});
