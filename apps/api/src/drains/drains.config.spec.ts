import { ConfigError } from '@paas/config';
import { makeTestPki } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { drainSettings } from './drains.config';

describe('drain settings', () => {
  it('refuse private targets by default, and read the switch, CA, limit and batch time', async (t) => {
    assert.deepEqual(drainSettings({}), { allowPrivate: false, caPem: null, maxPerApp: 5, batchMs: 1000 });
    const dir = mkdtempSync(join(tmpdir(), 'paas-drains-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = (await makeTestPki()).root.cert;
    writeFileSync(join(dir, 'ca.pem'), pem);
    assert.deepEqual(
      drainSettings({
        PAAS_DRAINS_ALLOW_PRIVATE: 'true',
        PAAS_DRAINS_CA_FILE: join(dir, 'ca.pem'),
        PAAS_DRAINS_MAX_PER_APP: '0',
        PAAS_DRAINS_BATCH_MS: '250',
      }),
      { allowPrivate: true, caPem: pem, maxPerApp: 0, batchMs: 250 },
    );
    assert.equal(drainSettings({ PAAS_DRAINS_ALLOW_PRIVATE: '0' }).allowPrivate, false);
  });

  it('refuse a bad value, naming the setting and what is wrong', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-drains-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    for (const [env, reason] of [
      [{ PAAS_DRAINS_ALLOW_PRIVATE: 'yes' }, /PAAS_DRAINS_ALLOW_PRIVATE="yes": expected 1, 0, true or false/],
      [{ PAAS_DRAINS_CA_FILE: join(dir, 'missing.pem') }, /PAAS_DRAINS_CA_FILE=.*cannot read: ENOENT/],
      [{ PAAS_DRAINS_CA_FILE: join(dir, 'junk.pem') }, /PAAS_DRAINS_CA_FILE=.*not a PEM certificate/],
      [{ PAAS_DRAINS_MAX_PER_APP: '-1' }, /PAAS_DRAINS_MAX_PER_APP="-1": expected a whole number, 0-1000/],
      [{ PAAS_DRAINS_BATCH_MS: '5' }, /PAAS_DRAINS_BATCH_MS="5": expected a whole number, 10-60000/],
    ] as const) {
      assert.throws(
        () => drainSettings(env),
        (err: unknown) => err instanceof ConfigError && reason.test(err.message),
        JSON.stringify(env),
      );
    }
  });
});
