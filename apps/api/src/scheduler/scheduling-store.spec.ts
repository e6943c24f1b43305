/**
 * The database roles of the reconcile pass hold what pass.spec's fakes promise: a commit is one
 * transaction that a ReleaseTransitionError undoes whole, liveness writes land together, and
 * the target, live release and formation come from release-lifecycle. On SQLite and PostgreSQL.
 */
import {
  Addon,
  type App,
  type AppPlan,
  Formation,
  Instance,
  Node,
  Release,
  ReleaseTransitionError,
  createRelease,
  releaseLive,
} from '@paas/platform';
import { TEST_DATABASES, insertApp, openTestDatabase } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { SchedulingStore } from './scheduling-store';

const AT = '2026-12-06T00:00:00.000Z';

for (const kind of TEST_DATABASES) {
  describe(`scheduling store on ${kind}`, () => {
    let ds: DataSource;
    let close: (() => Promise<void>) | undefined;
    let store: SchedulingStore;
    let node: Node;
    before(async () => {
      ({ dataSource: ds, close } = await openTestDatabase(kind));
      store = new SchedulingStore(ds);
      node = ds.manager.create(Node, {
        id: randomUUID(),
        name: 'n1',
        address: '10.0.0.1',
        memory: 4096,
        cpus: 4000,
        state: 'up',
        lastHeartbeatAt: AT,
      });
      await ds.manager.insert(Node, node);
    });
    after(() => close?.());

    const release = (app: App, n: number): Promise<Release> =>
      createRelease(ds, {
        appId: app.id,
        description: `Deploy ${n}`,
        imageRef: `127.0.0.1:5000/${app.name}:v${n}`,
        imageDigest: null,
        processTypes: { web: 'httpd' },
        createdBy: 'spec',
      });
    const plan = (p: Partial<AppPlan>): AppPlan => ({
      start: [],
      stop: [],
      goLive: null,
      fail: null,
      unplaced: [],
      ...p,
    });
    const start = (r: Release, number: number) => ({
      type: 'web',
      number,
      releaseId: r.id,
      nodeId: node.id,
      size: 'nano',
      memory: 32,
      cpuShares: 64,
      cpuQuota: 250,
    });

    it('reads the target, the live release and the formation through the lifecycle', async () => {
      const app = await insertApp(ds, 'reads');
      const v1 = await release(app, 1);
      await ds.transaction((em) => releaseLive(em, v1.id, AT));
      const v2 = await release(app, 2);
      const { target, live, formation } = await store.releases(app.id);
      assert.deepEqual([target?.version, live?.version], [2, 1]);
      assert.equal((await store.liveRelease(app.id))?.id, v1.id);
      assert.deepEqual(
        formation.map((f) => [f.type, f.quantity]),
        [['web', 1]],
      );
      assert.deepEqual(
        await store.versions([v1.id, v2.id, v1.id]),
        new Map([
          [v1.id, 1],
          [v2.id, 2],
        ]),
      );
    });

    it('commits starts and going live together, and stops apart', async () => {
      const app = await insertApp(ds, 'commits');
      const v1 = await release(app, 1);
      await store.commit([{ appId: app.id, plan: plan({ start: [start(v1, 1)], goLive: v1.id }) }], AT);
      assert.equal((await store.liveRelease(app.id))?.id, v1.id);
      assert.equal((await ds.manager.findOneByOrFail(Release, { id: v1.id })).liveAt, AT);
      const [web1] = (await store.instances()).filter((i) => i.appId === app.id);
      assert.deepEqual([web1?.state, web1?.desired], ['starting', 'run']);
      // with the size it was placed at
      assert.deepEqual(
        [web1?.size, web1?.memory, web1?.cpuShares, web1?.cpuQuota, web1?.replace],
        ['nano', 32, 64, 250, false],
      );
      const v2 = await release(app, 2);
      const rows = async () =>
        (await ds.manager.find(Instance, { where: { appId: app.id } }))
          .map((i) => [i.releaseId === v1.id ? 'v1' : 'v2', i.desired, i.state])
          .sort();
      await store.commit(
        [
          {
            appId: app.id,
            plan: plan({ start: [start(v2, 1)], stop: [{ id: web1?.id as string, reason: 'release' }] }),
          },
        ],
        AT,
      );
      // the stop waits for the routes (pass.ts step 4)
      assert.deepEqual(await rows(), [
        ['v1', 'run', 'starting'],
        ['v2', 'run', 'starting'],
      ]);
      await store.stop([web1?.id as string]);
      assert.deepEqual(await rows(), [
        ['v1', 'stop', 'stopping'],
        ['v2', 'run', 'starting'],
      ]);
    });

    it('commits nothing of a plan whose release moved meanwhile (ReleaseTransitionError)', async () => {
      const app = await insertApp(ds, 'racing');
      const v1 = await release(app, 1);
      await store.commit([{ appId: app.id, plan: plan({ start: [start(v1, 1)] }) }], AT);
      const [web1] = await ds.manager.find(Instance, { where: { appId: app.id } });
      // the plan would make v1 live, but a newer release superseded it first
      await release(app, 2);
      const other = await insertApp(ds, 'bystander');
      const b1 = await release(other, 1);
      await assert.rejects(
        store.commit(
          [
            { appId: other.id, plan: plan({ start: [start(b1, 1)] }) },
            {
              appId: app.id,
              plan: plan({
                start: [start(v1, 2)],
                stop: [{ id: web1?.id as string, reason: 'scale' }],
                goLive: v1.id,
              }),
            },
          ],
          AT,
        ),
        ReleaseTransitionError,
      );
      assert.equal(await ds.manager.count(Instance, { where: { appId: other.id } }), 0, "the other app's starts too");
      const rows = await ds.manager.find(Instance, { where: { appId: app.id } });
      assert.deepEqual(
        rows.map((i) => [i.number, i.desired]),
        [[1, 'run']],
      );
    });

    it('reads the instances as the pass sees them, the same on both databases, and the up web ones in order', async () => {
      const app = await insertApp(ds, 'reading');
      const v1 = await release(app, 1);
      await store.commit(
        [{ appId: app.id, plan: plan({ start: [start(v1, 2), start(v1, 1), { ...start(v1, 3), cpuQuota: null }] }) }],
        AT,
      );
      const byNumber = async () =>
        new Map((await store.instances()).filter((i) => i.appId === app.id).map((i) => [i.number, i]));
      const placed = await byNumber();
      const two = placed.get(2);
      await ds.manager.update(Instance, { id: placed.get(1)?.id }, { state: 'up', address: '10.0.0.1:5000' });
      await ds.manager.update(Instance, { id: two?.id }, { state: 'up', address: '10.0.0.2:5000', replace: true });
      await ds.manager.update(Instance, { id: placed.get(3)?.id }, { state: 'crashed', error: 'exited with code 1' });
      const read = await byNumber();
      assert.deepEqual(read.get(2), {
        id: two?.id,
        appId: app.id,
        releaseId: v1.id,
        type: 'web',
        number: 2,
        nodeId: node.id,
        state: 'up',
        desired: 'run',
        size: 'nano',
        memory: 32,
        cpuShares: 64,
        cpuQuota: 250,
        replace: true,
        error: null,
        address: '10.0.0.2:5000',
      });
      assert.deepEqual(
        [read.get(1)?.replace, read.get(3)?.cpuQuota, read.get(3)?.error],
        [false, null, 'exited with code 1'],
      );
    });

    it('marks nodes and their instances down together, and forgets instances', async () => {
      const app = await insertApp(ds, 'liveness');
      const v1 = await release(app, 1);
      await store.commit([{ appId: app.id, plan: plan({ start: [start(v1, 1)] }) }], AT);
      const [web1] = await ds.manager.find(Instance, { where: { appId: app.id } });
      await store.markDown([node.id], [web1?.id as string]);
      assert.equal((await store.list()).find((n) => n.id === node.id)?.state, 'down');
      assert.equal((await ds.manager.findOneByOrFail(Instance, { id: web1?.id })).state, 'down');
      await store.forget([web1?.id as string]);
      assert.equal(await ds.manager.count(Instance, { where: { appId: app.id } }), 0);
      await ds.manager.update(Node, { id: node.id }, { state: 'up' });
    });

    it('notes what waits for room on the formation row, keeping when the user last scaled it', async () => {
      const app = await insertApp(ds, 'waits');
      await release(app, 1);
      const before = await ds.manager.findOneByOrFail(Formation, { appId: app.id, type: 'web' });
      await new Promise((r) => setTimeout(r, 1100));
      await store.noteFormationWaiting(app.id, 'web', 2, 'no node has 512 MiB free');
      const after = await ds.manager.findOneByOrFail(Formation, { appId: app.id, type: 'web' });
      assert.deepEqual([after.waiting, after.waitingReason], [2, 'no node has 512 MiB free']);
      assert.equal(after.updatedAt.getTime(), before.updatedAt.getTime());
      const { formation } = await store.releases(app.id);
      assert.deepEqual(
        formation.map((f) => [f.type, f.waiting, f.waitingReason]),
        [['web', 2, 'no node has 512 MiB free']],
      );
    });

    it('reserves the memory of the add-ons placed on nodes, but not of destroying ones', async () => {
      const addon = (name: string, state: Addon['state'], nodeId: string | null) => ({
        id: randomUUID(),
        name,
        type: 'postgres' as const,
        appId: null,
        size: 'standard-1x',
        memory: 512,
        cpuShares: 1024,
        nodeId,
        volume: `addon-${name}`,
        port: 20000 + name.length,
        password: 'p'.repeat(32),
        state,
        containerId: null,
        restartCount: 0,
        error: null,
        backupHour: null,
      });
      const kept = addon('db', 'up', node.id);
      for (const row of [kept, addon('gone-db', 'destroying', node.id), addon('lost', 'failed', null)])
        await ds.manager.insert(Addon, row);
      assert.deepEqual(await store.reserved(), [
        { nodeId: node.id, appId: kept.id, type: 'postgres', memory: 512, cpuShares: 1024 },
      ]);
    });
  });
}
