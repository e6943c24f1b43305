/**
 * The release command's container as runReleaseCommand asks the engine for it: a small fake
 * engine records the create call (the real engine runs it in e2e's git push specs).
 */
import type { ContainerRecord, Engine } from '@paas/engine';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildLog } from './build-log';
import { runReleaseCommand } from './release-phase';

describe('the release phase', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paas-release-phase-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function fakeEngine(created: { image: string; options: Record<string, unknown> }[]): Engine {
    const record = { id: 'c1', labels: {} } as unknown as ContainerRecord;
    return {
      containers: { list: async () => [] },
      create: async (image: string, options: Record<string, unknown>) => {
        created.push({ image, options });
        return record;
      },
      start: async () => undefined,
      wait: async () => ({ exitCode: 3 }),
      kill: async () => undefined,
      logPath: () => join(dir, 'none.log'),
      remove: async () => undefined,
    } as unknown as Engine;
  }

  it("runs in the app's label with the add-ons it may reach, and returns the exit code", async () => {
    const created: { image: string; options: Record<string, unknown> }[] = [];
    const reach = [{ address: '10.0.0.1', port: 20000 }];
    const code = await runReleaseCommand({
      engine: fakeEngine(created),
      image: '127.0.0.1:5000/shop:v2',
      command: 'npm run migrate',
      env: { DATABASE_URL: 'postgres://db' },
      releaseId: 'r2',
      app: 'shop',
      log: { info: () => undefined } as unknown as BuildLog,
      reach,
    });
    assert.equal(code, 3);
    assert.equal(created.length, 1);
    const options = created[0]?.options as { reach: unknown; labels: Record<string, string>; run: { env: string[] } };
    assert.deepEqual(options.reach, reach);
    assert.equal(options.labels['paas.app'], 'shop');
    assert.deepEqual(options.run.env, ['DATABASE_URL=postgres://db']);
  });

  it('reaches no add-on when given none', async () => {
    const created: { image: string; options: Record<string, unknown> }[] = [];
    await runReleaseCommand({
      engine: fakeEngine(created),
      image: 'x',
      command: 'true',
      env: {},
      releaseId: 'r3',
      app: 'shop',
      log: { info: () => undefined } as unknown as BuildLog,
    });
    assert.deepEqual(created[0]?.options['reach'], []);
  });
});
