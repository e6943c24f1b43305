import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { App, ConfigVar, Formation, Release } from './model/entities';
import { transaction } from './model/database';
import { currentRelease, failBuildingRelease } from './release-lifecycle';
import { appConfig, changeConfig, createRelease, findApp } from './releases';
import { TEST_DATABASES, insertApp, openTestDatabase } from './testing/databases';

for (const kind of TEST_DATABASES) {
  describe(`releases on ${kind}`, () => {
    let ds: DataSource;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      ({ dataSource: ds, close } = await openTestDatabase(kind));
    });
    after(() => close?.());

    const newApp = (name: string): Promise<App> => insertApp(ds, name);

    it('numbers releases per app from v1 and makes the newest one in effect current', async () => {
      const a = await newApp('numbers-a');
      const b = await newApp('numbers-b');
      const base = { imageRef: 'r/a:1', imageDigest: 'sha256:1', processTypes: { web: 'npm start' } };
      const v1 = await createRelease(ds, { ...base, appId: a.id, description: 'Deploy 1' });
      const v2 = await createRelease(ds, { ...base, appId: a.id, description: 'Deploy 2' });
      const b1 = await createRelease(ds, { ...base, appId: b.id, description: 'Deploy b' });
      assert.deepEqual([v1.version, v2.version, b1.version], [1, 2, 1]);
      const buildId = randomUUID();
      await createRelease(ds, { ...base, appId: a.id, description: 'Deploy 3', building: true, buildId });
      assert.equal((await currentRelease(ds.manager, a.id))?.version, 2, 'a building release does not serve');
      await transaction(ds, (m) => failBuildingRelease(m, buildId, 'its build was lost'));
      assert.equal((await currentRelease(ds.manager, a.id))?.version, 2, 'nor a failed one');
    });

    it('gives concurrent creators distinct versions', async () => {
      const app = await newApp('racing');
      const made = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          createRelease(ds, {
            appId: app.id,
            description: `r${i}`,
            imageRef: null,
            imageDigest: null,
            processTypes: {},
          }),
        ),
      );
      assert.deepEqual(
        made.map((r) => r.version).sort((x, y) => x - y),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
    });

    it('returns the existing release for a repeated idempotency key, even when racing', async () => {
      const app = await newApp('idempotent');
      const input = {
        appId: app.id,
        description: 'Deploy abc',
        imageRef: 'r/x:1',
        imageDigest: 'sha256:2',
        processTypes: { web: 'x' },
        idempotencyKey: `abc:${randomUUID()}`,
      };
      const results = await Promise.all([createRelease(ds, input), createRelease(ds, input), createRelease(ds, input)]);
      assert.equal(new Set(results.map((r) => r.id)).size, 1);
      assert.equal(await ds.manager.count(Release, { where: { appId: app.id } }), 1);
    });

    it('snapshots config, and a config change makes a release carrying the current image', async () => {
      const app = await newApp('configured');
      await ds.manager.insert(ConfigVar, { appId: app.id, key: 'A', value: '1' });
      const v1 = await createRelease(ds, {
        appId: app.id,
        description: 'Deploy',
        imageRef: 'r/c:1',
        imageDigest: 'sha256:3',
        processTypes: { web: 'serve', worker: 'work', release: 'migrate' },
      });
      assert.deepEqual(v1.config, { A: '1' });
      const v2 = await changeConfig(ds, app.id, { set: { B: '2' }, unset: ['A'] }, 'tester');
      assert.ok(v2);
      assert.equal(v2.version, 2);
      assert.equal(v2.imageDigest, 'sha256:3');
      assert.deepEqual(v2.config, { B: '2' });
      assert.equal(v2.description, 'Set B config vars; Remove A config vars');
      assert.deepEqual(await appConfig(ds.manager, app.id), { B: '2' });
      assert.equal(
        await changeConfig(ds, app.id, { set: { B: '2' }, unset: ['NOPE'] }, null),
        null,
        'no change, no release',
      );
      const formation = await ds.manager.find(Formation, { where: { appId: app.id }, order: { type: 'ASC' } });
      assert.deepEqual(
        formation.map((f) => [f.type, f.quantity]),
        [
          ['web', 1],
          ['worker', 0],
        ],
        'web starts at one, other types at zero, release is not scaled',
      );
    });

    it('finds apps by name or id', async () => {
      const app = await newApp('findable');
      assert.equal((await findApp(ds.manager, 'findable'))?.id, app.id);
      assert.equal((await findApp(ds.manager, app.id))?.name, 'findable');
      assert.equal(await findApp(ds.manager, 'missing'), null);
    });
  });
}
