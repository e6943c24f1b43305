import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DataSource, EntityManager } from 'typeorm';
import { transaction } from './model/database';
import { App, Release, type ReleaseStatus } from './model/entities';
import {
  ReleaseTransitionError,
  currentRelease,
  failBuildingRelease,
  liveRelease,
  releaseBuilt,
  releaseFailed,
  releaseLive,
  releaseState,
  releaseWaiting,
  supersededBy,
} from './release-lifecycle';
import { RollbackError, changeConfig, createRelease, rollbackRelease } from './releases';
import { TEST_DATABASES, insertApp, openTestDatabase } from './testing/databases';

const STATES: readonly ReleaseStatus[] = ['building', 'deploying', 'live', 'failed', 'superseded'];
const AT = '2026-12-06T00:00:00.000Z';

for (const kind of TEST_DATABASES) {
  describe(`release lifecycle on ${kind}`, () => {
    let ds: DataSource;
    let close: (() => Promise<void>) | undefined;
    before(async () => {
      ({ dataSource: ds, close } = await openTestDatabase(kind));
    });
    after(() => close?.());

    const newApp = (name: string): Promise<App> => insertApp(ds, name);

    /** A release as a push makes it: building until its build ends (then releaseBuilt). */
    function push(app: App, n: number, building = false): Promise<Release> {
      return createRelease(ds, {
        appId: app.id,
        description: `Deploy ${n}`,
        imageRef: `r/${app.name}:${n}`,
        imageDigest: `sha256:${n}`,
        processTypes: { web: 'serve' },
        buildId: randomUUID(),
        building,
      });
    }

    const tx = <T>(work: (m: EntityManager) => Promise<T>): Promise<T> => transaction(ds, work);
    const state = (release: Release): Promise<ReleaseStatus | null> => releaseState(ds.manager, release.id);
    const version = async (p: Promise<Release | null>): Promise<number | undefined> => (await p)?.version;

    it('moves a release only along the state machine, and leaves it as it was otherwise', async () => {
      const app = await newApp('moves');
      // the direct moves; superseded comes from newer releases (the cases below)
      const movers: Record<'deploying' | 'live' | 'failed', (m: EntityManager, id: string) => Promise<Release>> = {
        deploying: (m, id) => releaseBuilt(m, id),
        live: (m, id) => releaseLive(m, id, AT),
        failed: (m, id) => releaseFailed(m, id, 'web.1 crashed'),
      };
      const legal = new Set(['building>deploying', 'building>failed', 'deploying>live', 'deploying>failed']);
      let n = 0;
      for (const from of STATES) {
        for (const to of ['deploying', 'live', 'failed'] as const) {
          // each case on an app of its own, so no other release is in effect beside it
          const own = await newApp(`moves-${++n}`);
          const release = await push(own, n, true);
          await ds.manager.update(Release, { id: release.id }, { status: from });
          const move = tx((m) => movers[to](m, release.id));
          if (legal.has(`${from}>${to}`)) {
            assert.equal((await move).status, to, `${from} -> ${to}`);
            assert.equal(await state(release), to, `${from} -> ${to} is written`);
          } else {
            await assert.rejects(move, ReleaseTransitionError, `${from} -> ${to} is refused`);
            assert.equal(await state(release), from, `${from} -> ${to} leaves it ${from}`);
          }
        }
      }
      await assert.rejects(
        tx((m) => releaseLive(m, randomUUID(), AT)),
        /no longer exists/,
      );
      assert.equal(await currentRelease(ds.manager, app.id), null);
    });

    it('a deploy that fails its check ends failed, and the previous release stays current and live', async () => {
      const app = await newApp('failing');
      const v1 = await push(app, 1);
      assert.equal(v1.status, 'deploying');
      await tx((m) => releaseLive(m, v1.id, AT));
      const v2 = await push(app, 2);
      assert.equal(await version(currentRelease(ds.manager, app.id)), 2, 'the deploy is current');
      assert.equal(await version(liveRelease(ds.manager, app.id)), 1, 'v1 serves meanwhile');
      await tx((m) => releaseFailed(m, v2.id, 'web.1 failed: startup check'));
      const failed = await ds.manager.findOneByOrFail(Release, { id: v2.id });
      assert.equal(failed.status, 'failed');
      assert.equal(failed.deployError, 'web.1 failed: startup check');
      assert.equal(await version(currentRelease(ds.manager, app.id)), 1);
      assert.equal(await version(liveRelease(ds.manager, app.id)), 1);
      assert.equal(await state(v1), 'live');
      await assert.rejects(
        tx((m) => releaseLive(m, v2.id, AT)),
        /v2 cannot become live: it is failed/,
      );
    });

    it('a rollback during a deploy supersedes the deploy; the live release serves until the rollback is live', async () => {
      const app = await newApp('rolling');
      const v1 = await push(app, 1);
      await tx((m) => releaseLive(m, v1.id, AT));
      const v2 = await push(app, 2);
      await tx((m) => releaseLive(m, v2.id, AT));
      assert.equal(await state(v1), 'superseded', 'a newer live release supersedes the old one');
      const v3 = await push(app, 3);
      const v4 = await tx((m) => rollbackRelease(m, app, 1, 'tester'));
      assert.equal(v4.status, 'deploying');
      assert.equal(v4.imageRef, v1.imageRef);
      assert.equal(await state(v3), 'superseded', 'the deploy the rollback interrupted');
      assert.equal(await version(supersededBy(ds.manager, v3)), 4);
      assert.equal(await version(currentRelease(ds.manager, app.id)), 4);
      assert.equal(await version(liveRelease(ds.manager, app.id)), 2, 'v2 serves until v4 is up');
      await assert.rejects(
        tx((m) => releaseLive(m, v3.id, AT)),
        ReleaseTransitionError,
        'v3 never goes live',
      );
      await tx((m) => releaseLive(m, v4.id, AT));
      assert.deepEqual(
        (await ds.manager.find(Release, { where: { appId: app.id }, order: { version: 'ASC' } })).map((r) => r.status),
        ['superseded', 'superseded', 'superseded', 'live'],
      );
    });

    it('rolls back only to a release that passed its build and release command', async () => {
      const app = await newApp('refusing');
      const v1 = await createRelease(ds, {
        appId: app.id,
        description: 'Set A config vars',
        imageRef: null,
        imageDigest: null,
        processTypes: {},
      });
      assert.equal(v1.status, 'live', 'a release without an image has nothing to start');
      const v2 = await push(app, 2, true);
      const v3 = await push(app, 3, true);
      await tx((m) => releaseFailed(m, v3.id, 'release command failed with exit code 1'));
      const refusals: [number, string, RollbackError['code']][] = [
        [1, 'release v1 has no image to roll back to', 'unprocessable'],
        [2, 'release v2 is building', 'unprocessable'],
        [3, 'release v3 is failed', 'unprocessable'],
        [9, "release v9 of app 'refusing' not found", 'not_found'],
      ];
      for (const [target, message, code] of refusals) {
        await assert.rejects(
          tx((m) => rollbackRelease(m, app, target, null)),
          (err: unknown) => {
            assert.ok(err instanceof RollbackError);
            assert.ok(err.message.startsWith(message), err.message);
            assert.equal(err.code, code);
            return true;
          },
        );
      }
      assert.equal(await ds.manager.count(Release, { where: { appId: app.id } }), 3, 'no release was made');
      assert.equal(await state(v2), 'building');
    });

    it('a release superseded while building never becomes live afterwards', async () => {
      const app = await newApp('overtaken');
      const v1 = await push(app, 1);
      await tx((m) => releaseLive(m, v1.id, AT));
      const v2 = await push(app, 2, true);
      // a config change while v2 builds takes effect first, with v1's image
      const v3 = await changeConfig(ds, app.id, { set: { A: '1' }, unset: [] }, 'tester');
      assert.equal(v3?.status, 'deploying');
      const built = await tx((m) => releaseBuilt(m, v2.id));
      assert.equal(built.status, 'superseded', 'its build ends after a newer release took effect');
      assert.equal(await version(currentRelease(ds.manager, app.id)), 3);
      await assert.rejects(
        tx((m) => releaseLive(m, v2.id, AT)),
        /v2 cannot become live: it is superseded/,
      );
      assert.equal(await version(liveRelease(ds.manager, app.id)), 1);

      // a build that ends with nothing newer in effect deploys, superseding an older deploy
      const v4 = await push(app, 4, true);
      assert.equal(await state(v3), 'deploying');
      assert.equal((await tx((m) => releaseBuilt(m, v4.id))).status, 'deploying');
      assert.equal(await state(v3), 'superseded');
      assert.equal(await version(currentRelease(ds.manager, app.id)), 4);
    });

    it('notes what holds a deploying release back, and forgets it once it moves on', async () => {
      const app = await newApp('waiting');
      const v1 = await push(app, 1);
      const note = 'No node has room for 1 web (512 MiB, 1 CPU): waiting for capacity';
      assert.equal(await tx((m) => releaseWaiting(m, v1.id, note)), true);
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).deployNote, note);
      await tx((m) => releaseLive(m, v1.id, AT));
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).deployNote, null);
      assert.equal(await tx((m) => releaseWaiting(m, v1.id, note)), false, 'a live release waits for nothing');
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).deployNote, null);
      const v2 = await push(app, 2);
      await tx((m) => releaseWaiting(m, v2.id, note));
      await tx((m) => releaseFailed(m, v2.id, 'timed out'));
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v2.id })).deployNote, null);
    });

    it('a lost build fails its building release and leaves a released one alone', async () => {
      const app = await newApp('lost');
      const v1 = await push(app, 1, true);
      assert.equal(await tx((m) => failBuildingRelease(m, randomUUID(), 'lost')), null, 'another build');
      const failed = await tx((m) => failBuildingRelease(m, v1.buildId ?? '', 'its worker was lost'));
      assert.equal(failed?.status, 'failed');
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).deployError, 'its worker was lost');
      const v2 = await push(app, 2);
      assert.equal(await tx((m) => failBuildingRelease(m, v2.buildId ?? '', 'late')), null);
      assert.equal(await state(v2), 'deploying');
    });

    it('of two writers racing for one release, exactly one wins', async () => {
      const app = await newApp('racing');
      for (let n = 1; n <= 4; n++) {
        const release = await push(app, n);
        const outcomes = await Promise.allSettled([
          tx((m) => releaseLive(m, release.id, AT)),
          tx((m) => releaseFailed(m, release.id, 'timed out')),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(won.length, 1, `round ${n}: ${JSON.stringify(outcomes.map((o) => o.status))}`);
        assert.ok(lost[0]?.reason instanceof ReleaseTransitionError, String(lost[0]?.reason));
        assert.equal(await state(release), (won[0] as PromiseFulfilledResult<Release>).value.status);
      }
    });
  });
}
