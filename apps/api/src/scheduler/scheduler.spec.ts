/**
 * The scheduler through the agent protocol: specs play the agents (register, heartbeat with
 * instance states) against the real api, database and Redis, and read the route table the
 * routers would read. Containers are the agents' business (e2e/cluster runs real ones).
 */
import {
  type App,
  type DesiredInstance,
  type HeartbeatAnswer,
  Instance,
  Node,
  Release,
  Formation,
  askForPass,
  changeConfig,
  nodeChannel,
  reportActivity,
  requestWake,
  createRelease,
  issueToken,
} from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import { readAppRoute } from '@paas/platform/routes';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource, type FindOptionsWhere } from 'typeorm';
import { createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';
import { waitFor } from '../testing/wait';
import { DeploysService } from './deploys.service';
import { SchedulerService } from './scheduler.service';

type Report = { state?: 'starting' | 'up' | 'crashed' | 'stopping'; error?: string | null };

/** An agent without containers: reports what it was told to run, in the states a spec gives. */
class FakeAgent {
  desired: DesiredInstance[] = [];
  /** Instance id -> what it reports; instances not in here report `up`. */
  readonly states = new Map<string, Report>();
  /** The state instances it is newly told about report until a spec says otherwise. */
  defaultState: 'starting' | 'up' = 'up';
  /** Instances it keeps reporting after being told to drop them (still stopping). */
  readonly lingering = new Set<string>();
  private known = new Map<string, DesiredInstance>();

  constructor(
    private readonly api: TestApi,
    readonly name: string,
    readonly ip: string,
  ) {}

  async register(memory = 4096, cpus = 4000, overcommit?: number): Promise<void> {
    const res = await this.api.request('POST', '/api/nodes/register', {
      body: { name: this.name, address: this.ip, memory, cpus, overcommit, version: 'test' },
    });
    assert.equal(res.status, 201, res.text);
  }

  async beat(): Promise<HeartbeatAnswer> {
    const reports = [...this.known.values()]
      .filter((d) => this.desired.some((x) => x.id === d.id) || this.lingering.has(d.id))
      .map((d) => {
        const r = this.states.get(d.id) ?? {};
        const state = r.state ?? 'up';
        return {
          id: d.id,
          releaseId: d.releaseId,
          state,
          containerId: `c${d.id.replace(/-/g, '')}`.slice(0, 64),
          address: d.port ? `${this.ip}:${30000 + d.number}` : null,
          pid: 100 + d.number,
          memoryBytes: 1 << 20,
          restartCount: 0,
          error: r.error ?? null,
        };
      });
    const res = await this.api.request('POST', `/api/nodes/${this.name}/heartbeat`, { body: { instances: reports } });
    assert.equal(res.status, 200, res.text);
    const answer = res.body as HeartbeatAnswer;
    this.desired = [...answer.instances];
    for (const d of answer.instances) {
      if (!this.known.has(d.id) && this.defaultState !== 'up') this.states.set(d.id, { state: this.defaultState });
      this.known.set(d.id, d);
    }
    return answer;
  }
}

async function beatAll(agents: readonly FakeAgent[], times = 2): Promise<void> {
  for (let n = 0; n < times; n++) {
    for (const agent of agents) await agent.beat();
    await new Promise((r) => setTimeout(r, 30));
  }
}

TEST_DATABASES.forEach((kind) => {
  describe(`scheduler on ${kind}`, () => {
    let api: TestApi;
    let scheduler: SchedulerService;
    let agents: FakeAgent[];
    let app: App;

    const rows = async (where: FindOptionsWhere<Instance> = {}): Promise<Instance[]> =>
      api.dataSource.manager.find(Instance, {
        where: { appId: app.id, ...where },
        order: { type: 'ASC', number: 'ASC' },
      });
    const perNode = async (): Promise<Record<string, number>> => {
      const nodes = await api.dataSource.manager.find(Node);
      const out: Record<string, number> = {};
      for (const i of await rows({ desired: 'run' })) {
        const name = nodes.find((n) => n.id === i.nodeId)?.name ?? 'none';
        out[name] = (out[name] ?? 0) + 1;
      }
      return out;
    };
    const route = async (): Promise<string[]> =>
      ((await readAppRoute(api.redis, app.name)).route?.backends ?? []).map((b) => `${b.id}@${b.address}`).sort();
    /** Heartbeats until `check` holds (the scheduler runs passes on its own meanwhile). */
    const settle = async (check: () => Promise<boolean>, what: string, who = agents): Promise<void> => {
      await waitFor(
        async () => {
          await beatAll(who, 1);
          await scheduler.reconcileNow();
          return check();
        },
        what,
        15_000,
      );
    };

    before(async () => {
      api = await startTestApi(kind, {
        // long enough that a loaded machine's pause between two beats of the settle loop (seen
        // over 1 s under CI and other load: the node went down and its instance moved) is no
        // silence; the silent-node test waits this long once
        PAAS_NODE_TIMEOUT: '3',
        PAAS_RECONCILE_MS: '100',
        PAAS_DRAIN_MS: '0',
        PAAS_DEPLOY_TIMEOUT: '20',
      });
      scheduler = api.api.app.get(SchedulerService);
      agents = ['n1', 'n2', 'n3'].map((name, k) => new FakeAgent(api, name, `10.99.0.${k + 1}`));
      for (const agent of agents) await agent.register(4096, 4000, agent.name === 'n1' ? 150 : undefined);
      app = await createApp(api, 'sched');
    });
    after(async () => {
      await api?.close();
    });

    it('registers nodes and refuses agents without an admin token or with bad reports', async () => {
      const nodes = (await api.request('GET', '/api/nodes')).body as {
        name: string;
        state: string;
        address: string;
        overcommit: number;
      }[];
      assert.deepEqual(
        nodes.map((n) => [n.name, n.state, n.address, n.overcommit]),
        [
          ['n1', 'up', '10.99.0.1', 150],
          ['n2', 'up', '10.99.0.2', 100],
          ['n3', 'up', '10.99.0.3', 100],
        ],
      );
      const { token } = await issueToken(api.dataSource.manager, { name: 'dev' });
      const body = { name: 'sneaky', address: '10.0.0.9', memory: 1024, cpus: 1000 };
      assert.equal((await api.request('POST', '/api/nodes/register', { body, token })).status, 403);
      assert.equal(
        (await api.request('POST', '/api/nodes/n1/heartbeat', { body: { instances: [] }, token })).status,
        403,
      );
      const bad = await api.request('POST', '/api/nodes/register', {
        body: { ...body, name: 'Bad Name', memory: 1, overcommit: 50 },
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body.details.map((d: { field: string }) => d.field).sort(), [
        'memory',
        'name',
        'overcommit',
      ]);
      for (const overcommit of [1001, 1.5, '200', null]) {
        const res = await api.request('POST', '/api/nodes/register', { body: { ...body, name: 'oc', overcommit } });
        assert.equal(res.status, 400, JSON.stringify(overcommit));
      }
      assert.equal(await api.dataSource.manager.count(Node, { where: { name: 'oc' } }), 0);
      const report = {
        id: 'x',
        releaseId: 'y',
        state: 'dancing',
        containerId: null,
        address: null,
        pid: -1,
        memoryBytes: null,
        restartCount: 0,
        error: null,
      };
      const badBeat = await api.request('POST', '/api/nodes/n1/heartbeat', { body: { instances: [report] } });
      assert.equal(badBeat.status, 400);
      assert.deepEqual([...new Set(badBeat.body.details.map((d: { field: string }) => d.field))].sort(), [
        'instances.0.id',
        'instances.0.pid',
        'instances.0.releaseId',
        'instances.0.state',
      ]);
      assert.equal((await api.request('POST', '/api/nodes/nope/heartbeat', { body: { instances: [] } })).status, 404);
    });

    it('deploys a first release: places web.1, routes it once up, and marks the release live', async () => {
      const release = await deployRelease(api, app, {
        image: '127.0.0.1:5000/sched:v1',
        processTypes: { web: 'httpd', worker: 'w' },
      });
      const deploys = api.api.app.get(DeploysService);
      const lines: string[] = [];
      const outcome = deploys.waitLive(release.id, { onLine: (l) => lines.push(l), timeoutMs: 15_000 });
      await settle(async () => (await route()).length === 1, 'web.1 routed');
      assert.deepEqual(await outcome, { status: 'live', version: 1 });
      assert.ok(
        lines.some((l) => /^Starting web\.1 \(v1\) on n\d$/.test(l)),
        lines.join('\n'),
      );
      assert.ok(lines.includes('Deployed v1: the router sends sched to it'), lines.join('\n'));
      const [web1] = await rows();
      const desired = agents.flatMap((a) => a.desired);
      assert.equal(desired.length, 1);
      const d = desired[0] as DesiredInstance;
      assert.deepEqual(
        [
          d.app,
          d.type,
          d.number,
          d.image,
          d.command,
          d.env['PORT'],
          d.env['DYNO'],
          d.port,
          d.size,
          d.memory,
          d.cpuShares,
          d.cpuQuota,
          d.check.kind,
        ],
        ['sched', 'web', 1, '127.0.0.1:5000/sched:v1', 'httpd', '5000', 'web.1', 5000, 'basic', 256, 512, null, 'http'],
      );
      assert.equal(web1?.state, 'up');
      assert.ok((await api.dataSource.manager.findOneByOrFail(Release, { id: release.id })).liveAt);
      const { route: full } = await readAppRoute(api.redis, app.name);
      assert.deepEqual(full?.check, { type: 'tcp' });
    });

    it('scales web to 6 spread 2/2/2, routes all six, then back to 1 leaving the routes first', async () => {
      const res = await api.request('PATCH', '/api/apps/sched/formation/web', { body: { quantity: 6 } });
      assert.equal(res.status, 200);
      await settle(async () => (await route()).length === 6, 'six routed');
      assert.deepEqual(await perNode(), { n1: 2, n2: 2, n3: 2 });
      assert.deepEqual(
        (await rows()).map((i) => `${i.type}.${i.number}`),
        ['web.1', 'web.2', 'web.3', 'web.4', 'web.5', 'web.6'],
      );
      // scale down: the route loses them while their agents still run them
      for (const a of agents) for (const d of a.desired) a.lingering.add(d.id);
      await api.request('PATCH', '/api/apps/sched/formation/web', { body: { quantity: 1 } });
      await scheduler.reconcileNow();
      assert.deepEqual(
        (await route()).map((b) => b.split('@')[0]),
        ['web.1'],
      );
      assert.equal((await rows({ desired: 'stop' })).length, 5);
      assert.ok((await rows({ desired: 'stop' })).every((i) => i.state === 'stopping'));
      // once the agents say they are gone, the rows go
      for (const a of agents) a.lingering.clear();
      await settle(async () => (await rows()).length === 1, 'stopped rows removed');
    });

    it('deploys a new release beside the old one and switches when it is up', async () => {
      await api.request('PATCH', '/api/apps/sched/formation/web', { body: { quantity: 2 } });
      await settle(async () => (await route()).length === 2, 'two routed');
      const before = await route();
      const v2 = await changeConfig(api.dataSource, app.id, { set: { COLOR: 'blue' }, unset: [] }, 'spec');
      assert.ok(v2);
      // the new instances report starting: the old ones keep serving
      for (const a of agents) a.defaultState = 'starting';
      await settle(async () => (await rows({ releaseId: v2.id, state: 'starting' })).length === 2, 'v2 placed');
      await beatAll(agents, 2);
      assert.deepEqual(await route(), before, 'still v1');
      const env = agents.flatMap((a) => a.desired).find((d) => d.releaseId === v2.id)?.env;
      assert.equal(env?.['COLOR'], 'blue');
      for (const a of agents) {
        a.defaultState = 'up';
        a.states.clear();
      }
      await settle(
        async () =>
          (await rows({ desired: 'run' })).every((i) => i.releaseId === v2.id) && (await route()).length === 2,
        'switched',
      );
      assert.notDeepEqual(await route(), before);
      assert.ok((await api.dataSource.manager.findOneByOrFail(Release, { id: v2.id })).liveAt);
    });

    it('rolls back a release whose instance fails its check: the live one keeps serving', async () => {
      const live = await route();
      const v3 = await changeConfig(api.dataSource, app.id, { set: { COLOR: 'red' }, unset: [] }, 'spec');
      assert.ok(v3);
      const deploys = api.api.app.get(DeploysService);
      const outcome = deploys.waitLive(v3.id, { timeoutMs: 15_000 });
      await waitFor(async () => {
        for (const a of agents) {
          for (const d of a.desired) {
            if (d.releaseId === v3.id)
              a.states.set(d.id, { state: 'crashed', error: 'GET / failed: connection refused' });
          }
        }
        await beatAll(agents, 1);
        await scheduler.reconcileNow();
        return (await api.dataSource.manager.findOneByOrFail(Release, { id: v3.id })).status === 'failed';
      }, 'v3 failed');
      const result = await outcome;
      assert.equal(result.status, 'failed');
      assert.match((result as { reason: string }).reason, /^web\.\d failed: GET \/ failed: connection refused$/);
      assert.deepEqual(await route(), live);
      await settle(async () => (await rows()).every((i) => i.releaseId !== v3.id), 'v3 instances gone');
      for (const a of agents) a.states.clear();
    });

    it('reschedules the instances of a node that stops reporting, and takes the node back later', async () => {
      const [n1, n2, n3] = agents as [FakeAgent, FakeAgent, FakeAgent];
      await api.request('PATCH', '/api/apps/sched/formation/web', { body: { quantity: 3 } });
      await settle(async () => (await route()).length === 3, 'three routed');
      assert.deepEqual(await perNode(), { n1: 1, n2: 1, n3: 1 });
      // n3 goes silent: after the timeout its instance comes back on n1 or n2
      await settle(
        async () => (await perNode())['n3'] === undefined && (await route()).length === 3,
        'rescheduled off n3',
        [n1, n2],
      );
      assert.equal((await api.dataSource.manager.findOneByOrFail(Node, { name: 'n3' })).state, 'down');
      const counts = await perNode();
      assert.equal((counts['n1'] ?? 0) + (counts['n2'] ?? 0), 3);
      // n3 reports again: up, with nothing to run (its old instance was replaced)
      const answer = await n3.beat();
      assert.equal(answer.node.state, 'up');
      assert.deepEqual(answer.instances, []);
    });

    it('drains a node: replacements first, then its instances leave; activate takes it back', async () => {
      const before = await perNode();
      const drained = Object.keys(before).find((n) => (before[n] ?? 0) > 0) as string;
      const res = await api.request('POST', `/api/nodes/${drained}/drain`);
      assert.equal(res.status, 200);
      assert.equal(res.body.state, 'draining');
      await settle(async () => (await perNode())[drained] === undefined && (await route()).length === 3, 'drained');
      assert.equal((await api.request('POST', `/api/nodes/${drained}/activate`)).body.state, 'up');
      assert.equal((await api.request('POST', '/api/nodes/nope/drain')).status, 404);
      const { token } = await issueToken(api.dataSource.manager, { name: 'dev2' });
      assert.equal((await api.request('POST', `/api/nodes/${drained}/drain`, { token })).status, 403);
    });

    it('resizes by a rolling restart (new instances first, then the old ones), refusing sizes no node holds', async () => {
      const formation = '/api/apps/sched/formation/web';
      const tooBig = await api.request('PATCH', formation, { body: { size: 'performance-l' } });
      assert.equal(tooBig.status, 422, tooBig.text);
      assert.match(tooBig.body.message, /at most 0 of 14336 MiB fit on 3 nodes$/);
      const old = await rows({ type: 'web', desired: 'run' });
      assert.equal(old.length, 3);
      assert.ok(old.every((i) => i.size === 'basic'));
      assert.equal((await api.request('PATCH', formation, { body: { size: 'standard-1x' } })).status, 200);
      const routes: string[][] = [];
      await settle(async () => {
        routes.push(await route());
        const now = await rows({ type: 'web', desired: 'run' });
        return now.length === 3 && now.every((i) => i.size === 'standard-1x' && i.state === 'up');
      }, 'resized');
      await settle(async () => (await route()).length === 3, 'routed');
      const now = await rows({ type: 'web', desired: 'run' });
      assert.ok(!now.some((i) => old.some((o) => o.id === i.id)), 'every old instance replaced');
      assert.ok(now.every((i) => i.memory === 512 && i.cpuShares === 1024 && i.cpuQuota === null));
      assert.ok(
        routes.every((r) => r.length >= 3),
        `the route lost a backend: ${JSON.stringify(routes)}`,
      );
      const lines = await apiLogLines(api, app.id, 'scheduler');
      assert.ok(
        lines.some((l) => /^Stopping web\.\d \(v\d\): resized to standard-1x; replaced$/.test(l)),
        lines.join('\n'),
      );
      // and each stop's end, once its agent removed it
      await settle(async () => {
        const said = await apiLogLines(api, app.id, 'scheduler');
        return old.every((o) => said.some((l) => l.startsWith(`web.${o.number} (v`) && / stopped on n\d$/.test(l)));
      }, 'the stops said');
    });

    it('removes the route of a deleted app', async () => {
      assert.ok((await readAppRoute(api.redis, 'sched')).route);
      assert.equal((await api.request('DELETE', '/api/apps/sched')).status, 200);
      await settle(async () => (await readAppRoute(api.redis, 'sched')).route === null, 'route removed');
      for (const a of agents) assert.deepEqual((await a.beat()).instances, []);
    });
  });
});

describe('scheduler passes on changes', () => {
  let api: TestApi;
  before(async () => {
    // a loop too slow to matter: only the changes themselves ask for passes
    api = await startTestApi('sqlite', { PAAS_RECONCILE_MS: '60000' });
  });
  after(async () => {
    await api?.close();
  });

  it('places instances as soon as a release is made or the formation changes', async () => {
    const agent = new FakeAgent(api, 'solo', '10.99.1.1');
    await agent.register(8192, 16_000);
    const app = await createApp(api, 'eager');
    await deployRelease(api, app, { image: '127.0.0.1:5000/eager:v1', processTypes: { web: 'httpd' } });
    const count = (): Promise<number> =>
      api.dataSource.manager.count(Instance, { where: { appId: app.id, desired: 'run' } });
    await waitFor(async () => (await count()) === 1, 'web.1 placed after the release', 10_000);
    await api.request('PATCH', '/api/apps/eager/formation/web', { body: { quantity: 3 } });
    await waitFor(async () => (await count()) === 3, 'scaled after the formation change', 10_000);
    const v2 = await changeConfig(api.dataSource, app.id, { set: { A: '1' }, unset: [] }, 'spec');
    await waitFor(
      async () => (await api.dataSource.manager.count(Instance, { where: { releaseId: v2?.id } })) === 3,
      'v2 placed after the config change',
      10_000,
    );
  });

  it('places the release a build worker in a process of its own made, once it asks for a pass', async () => {
    const agent = new FakeAgent(api, 'worker-node', '10.99.1.2');
    await agent.register(8192, 16_000);
    const app = await createApp(api, 'elsewhere');
    // the worker's process: a connection of its own, which the api's change hooks never see
    const worker = new DataSource({ ...api.dataSource.options, migrationsRun: false });
    await worker.initialize();
    // the passes the registration and the app asked for are over before the release exists
    await api.api.app.get(SchedulerService).reconcileNow();
    try {
      const release = await createRelease(worker, {
        appId: app.id,
        description: 'Deploy 0123abc',
        imageRef: '127.0.0.1:5000/elsewhere:v1',
        imageDigest: `sha256:${'ab'.repeat(32)}`,
        processTypes: { web: 'httpd' },
        createdBy: 'build',
      });
      const placed = (): Promise<number> =>
        api.dataSource.manager.count(Instance, { where: { releaseId: release.id } });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await placed(), 0, 'placed without a pass: the spec would prove nothing');
      await askForPass(api.redis);
      await waitFor(async () => (await placed()) === 1, 'web.1 placed after the kick', 10_000);
    } finally {
      await worker.destroy();
    }
  });

  it('puts an idle app to sleep, and wakes it at once when a router asks: placed, and its agent told', async () => {
    const agent = new FakeAgent(api, 'nap-node', '10.99.1.3');
    await agent.register(8192, 16_000);
    const app = await createApp(api, 'napper');
    await deployRelease(api, app, { image: '127.0.0.1:5000/napper:v1', processTypes: { web: 'httpd' } });
    const count = (): Promise<number> =>
      api.dataSource.manager.count(Instance, { where: { appId: app.id, desired: 'run' } });
    await waitFor(async () => (await count()) === 1, 'web.1 placed', 10_000);
    await beatAll([agent]);
    const set = await api.request('PUT', '/api/apps/napper/formation/web/autoscale', {
      body: { min: 0, max: 2, concurrency: 5, idle: '1s' },
    });
    assert.equal(set.status, 200, set.text);
    await reportActivity(api.redis, 'spec-router', [{ app: 'napper', lastRequestAt: Date.now(), inflight: 0 }]);
    const scheduler = api.api.app.get(SchedulerService);
    const quantity = async (): Promise<number | undefined> =>
      (await api.dataSource.manager.findOneBy(Formation, { appId: app.id, type: 'web' }))?.quantity;
    await waitFor(
      async () => {
        await scheduler.reconcileNow();
        return (await quantity()) === 0;
      },
      'asleep after a second without requests',
      10_000,
    );
    await beatAll([agent]);
    assert.equal(await count(), 0);
    const route = await readAppRoute(api.redis, 'napper');
    assert.deepEqual([route.route?.sleeping, route.route?.backends], [true, []]);
    // asleep: a longer quiet period, so that it stays awake once woken while the spec looks
    const longer = await api.request('PUT', '/api/apps/napper/formation/web/autoscale', {
      body: { min: 0, max: 2, concurrency: 5, idle: '1h' },
    });
    assert.deepEqual([longer.status, longer.body.quantity, longer.body.sleeping], [200, 0, true]);
    // a router asks: the leader places it at once, though its loop runs once a minute, and tells the agent
    const listener = api.redis.duplicate();
    const told: string[] = [];
    listener.on('message', (channel: string) => told.push(channel));
    await listener.subscribe(nodeChannel('nap-node'));
    try {
      assert.equal(await requestWake(api.redis, 'napper'), true);
      // a second router asking (joined in Redis, or after the leader took the first): one wake all the same
      await requestWake(api.redis, 'napper');
      await waitFor(async () => (await count()) === 1, 'web.1 placed after the wake was asked', 10_000);
      await waitFor(async () => told.length > 0, 'the agent told', 10_000);
      assert.equal(await quantity(), 1);
      await beatAll([agent]);
      await waitFor(
        async () => ((await readAppRoute(api.redis, 'napper')).route?.backends.length ?? 0) === 1,
        'routed once up',
        10_000,
      );
      assert.equal((await readAppRoute(api.redis, 'napper')).route?.sleeping, undefined);
      await waitFor(
        async () => (await apiLogLines(api, app.id, 'scheduler')).some((l) => l.startsWith('Woke web')),
        'woke',
        10_000,
      );
      const lines = await apiLogLines(api, app.id, 'scheduler');
      assert.equal(lines.filter((l) => /^Waking web: requested \d+ ms ago$/.test(l)).length, 1, lines.join('\n'));
      assert.equal(await count(), 1);
    } finally {
      listener.disconnect();
    }
  });
});
