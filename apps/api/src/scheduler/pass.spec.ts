/**
 * The reconcile pass on fakes of its roles (testing.ts): deploys, failures, dead nodes,
 * rollbacks and capacity, pass by pass, in milliseconds. scheduler.spec.ts runs the same pass
 * with the real roles (database, Redis, the agent protocol).
 */
import assert from 'node:assert/strict';
import type { AppRoute } from '@paas/platform/routes';
import { describe, it } from 'node:test';
import { type PassApp, type PassSettings, Reconciler } from './pass';
import { type FakeRelease, type Report, fakeRoles } from './testing';

function setup(settings: Partial<PassSettings> = {}) {
  const roles = fakeRoles();
  const reconciler = new Reconciler(roles, {
    strategy: 'spread',
    nodeTimeoutMs: 10_000,
    deployTimeoutMs: 60_000,
    ...settings,
  });
  return { ...roles, pass: () => reconciler.pass() };
}

type Setup = ReturnType<typeof setup>;

/** App `shop` with `quantity` web instances of v1 up and routed. */
async function liveApp(s: Setup, quantity = 1): Promise<{ app: PassApp; v1: FakeRelease }> {
  const app = s.cluster.addApp('shop');
  const v1 = s.cluster.release(app);
  s.cluster.scale(app, 'web', { quantity });
  await s.pass();
  s.cluster.heartbeat();
  await s.pass();
  assert.equal(v1.status, 'live');
  assert.equal(s.routes.backends('shop').length, quantity);
  s.messages.take();
  s.journal.length = 0;
  return { app, v1 };
}

/** liveApp, then v2 placed beside v1 (its lines taken); `served`: v1's routes. */
async function deploying(
  s: Setup,
  quantity = 1,
): Promise<{ app: PassApp; v1: FakeRelease; v2: FakeRelease; served: string[] }> {
  const { app, v1 } = await liveApp(s, quantity);
  const served = s.routes.backends('shop');
  const v2 = s.cluster.release(app);
  await s.pass();
  s.messages.take();
  return { app, v1, v2, served };
}

/** One node of 1 GiB that app `big` fills with two live instances of 512 MiB. */
async function fullNode(s: Setup): Promise<PassApp> {
  s.cluster.addNode('n1', { memory: 1024 });
  const big = s.cluster.addApp('big');
  s.cluster.release(big);
  s.cluster.scale(big, 'web', { quantity: 2 });
  await s.pass();
  s.cluster.heartbeat();
  await s.pass();
  s.messages.take();
  return big;
}

describe('reconcile pass', () => {
  it('deploys a release beside the live one, switches the routes, then tells the old node to stop', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    s.cluster.addNode('n2');
    const app = s.cluster.addApp('shop');
    const v1 = s.cluster.release(app);
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Deploying v1', 'Starting web.1 (v1) on n1']);
    assert.deepEqual(s.journal.splice(0), ['route shop:', 'wake n1']);
    s.cluster.heartbeat();
    await s.pass();
    assert.equal(v1.status, 'live');
    assert.deepEqual(s.messages.take(), ['Deployed v1: the router sends shop to it']);
    const v1Routes = s.routes.backends('shop');
    assert.match(v1Routes.join(), /^web\.1@10\.0\.0\.1:\d+$/);

    const v2 = s.cluster.release(app);
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Deploying v2 (v1 serves until it is up)', 'Starting web.1 (v2) on n2']);
    assert.deepEqual(s.journal.splice(0), ['wake n2'], 'the routes stay on v1');
    s.cluster.heartbeat(['n2'], () => ({ state: 'starting' }));
    await s.pass();
    assert.equal(v2.status, 'deploying');
    assert.deepEqual(s.routes.backends('shop'), v1Routes);

    s.cluster.heartbeat();
    await s.pass();
    assert.equal(v2.status, 'live');
    assert.equal(v2.liveAt, s.clock.iso());
    assert.equal(v1.status, 'superseded');
    const v2Routes = s.routes.backends('shop');
    assert.match(v2Routes.join(), /^web\.1@10\.0\.0\.2:\d+$/);
    // the route leaves v1 before n1 hears it should stop v1's instance
    assert.deepEqual(s.journal.splice(0), [`route shop: ${v2Routes.join()}`, 'wake n1']);
    assert.deepEqual(s.messages.take(), [
      'Stopping web.1 (v1): replaced by v2',
      'Deployed v2: the router sends shop to it',
    ]);
    assert.deepEqual(s.messages.settledEvents.at(-1), {
      appId: app.id,
      releaseId: v2.id,
      version: 2,
      status: 'live',
      reason: null,
    });
    assert.deepEqual(s.cluster.running(app), ['web.1@n2 (v2, up)']);

    // n1 stops it; a steady pass writes and says nothing
    s.cluster.heartbeat();
    const writes = s.routes.writes;
    await s.pass();
    assert.equal(s.cluster.instanceRows.length, 1);
    assert.equal(s.routes.writes, writes);
    assert.deepEqual(s.journal, []);
    assert.deepEqual(s.messages.take(), []);
  });

  it('commits a stop only once the routes without it are written: while Redis is down the instance keeps serving', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 2);
    const both = s.routes.backends('shop');
    s.cluster.scale(app, 'web', { quantity: 1 });
    s.routes.down = true;
    await assert.rejects(s.pass(), /Connection is closed/);
    // no agent may stop web.2 yet: every router still sends to it
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)', 'web.2@n1 (v1, up)']);
    assert.deepEqual(s.routes.backends('shop'), both);
    assert.deepEqual(s.journal, []);

    s.routes.down = false;
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)']);
    assert.deepEqual(s.routes.backends('shop'), both.slice(0, 1));
    assert.deepEqual(s.journal.splice(0), [`route shop: ${both[0]}`, 'wake n1']);
    assert.deepEqual(s.messages.take(), ['Stopping web.2 (v1): scaled down']);
  });

  it("keeps an app's instances while its route write fails, and stops another app's whose route was written", async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 2);
    const other = s.cluster.addApp('blog');
    s.cluster.release(other);
    s.cluster.scale(other, 'web', { quantity: 2 });
    await s.pass();
    s.cluster.heartbeat();
    await s.pass();
    s.messages.take();
    s.cluster.scale(app, 'web', { quantity: 1 });
    s.cluster.scale(other, 'web', { quantity: 1 });
    s.routes.failing.add('shop');
    await s.pass();
    assert.deepEqual(
      s.cluster.running(app),
      ['web.1@n1 (v1, up)', 'web.2@n1 (v1, up)'],
      "shop's route still has web.2",
    );
    assert.deepEqual(s.cluster.running(other), ['web.1@n1 (v1, up)']);
    assert.deepEqual(s.messages.take(), ['Stopping web.2 (v1): scaled down'], "only blog's stop is said");

    s.routes.failing.clear();
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)']);
    assert.equal(s.routes.backends('shop').length, 1);
    assert.deepEqual(s.messages.take(), ['Stopping web.2 (v1): scaled down']);
  });

  it('fails a deploy whose instance fails its check: the live release keeps serving, the lines say so', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app, v1, v2, served } = await deploying(s);
    s.cluster.heartbeat(undefined, (i) =>
      i.releaseId === v2.id ? { state: 'crashed', error: 'GET / answered 500' } : undefined,
    );
    const writes = s.routes.writes;
    await s.pass();
    assert.equal(v2.status, 'failed');
    assert.equal(v2.deployError, 'web.1 failed: GET / answered 500');
    assert.equal(v1.status, 'live');
    assert.deepEqual(s.routes.backends('shop'), served);
    assert.equal(s.routes.writes, writes);
    assert.deepEqual(s.messages.take(), [
      'Stopping web.1 (v2): its release failed to deploy',
      'Deploy of v2 failed: web.1 failed: GET / answered 500; rolled back, v1 keeps serving',
    ]);
    assert.deepEqual(s.messages.settledEvents.at(-1), {
      appId: app.id,
      releaseId: v2.id,
      version: 2,
      status: 'failed',
      reason: 'web.1 failed: GET / answered 500',
    });
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)']);
  });

  it('replaces the instances of a node that dies mid-deploy on the nodes left, and forgets them once stopped', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    s.cluster.addNode('n2');
    const { app, v1, v2 } = await deploying(s, 2);
    assert.deepEqual(s.cluster.running(app), [
      'web.1@n1 (v1, up)',
      'web.1@n1 (v2, starting)',
      'web.2@n2 (v1, up)',
      'web.2@n2 (v2, starting)',
    ]);
    // n2 goes silent while v2 starts
    const starting: Report = (i) => (i.releaseId === v2.id ? { state: 'starting' } : undefined);
    s.cluster.heartbeat(['n1'], starting);
    s.clock.advance(10_001);
    s.cluster.heartbeat(['n1'], starting);
    await s.pass();
    assert.equal(s.cluster.node('n2').state, 'down');
    assert.ok(s.logger.messages.includes('node n2 is down: no heartbeat for 10 s'));
    const lines = s.messages.take();
    assert.ok(lines.includes('web.2 (v1) is lost with node n2: no heartbeat for 10 s'), lines.join('\n'));
    assert.ok(lines.includes('web.2 (v2) is lost with node n2: no heartbeat for 10 s'), lines.join('\n'));
    assert.ok(lines.includes('Starting web.2 (v2) on n1'), lines.join('\n'));
    assert.deepEqual(
      s.routes.backends('shop').map((b) => b.split('@')[0]),
      ['web.1'],
      'what n2 ran left the routes',
    );
    assert.equal(v2.status, 'deploying');

    s.cluster.heartbeat(['n1']);
    await s.pass();
    assert.equal(v2.status, 'live');
    assert.equal(v1.status, 'superseded');
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v2, up)', 'web.2@n1 (v2, up)']);
    assert.deepEqual(
      s.messages.take().filter((l) => l.startsWith('Stopping')),
      [
        'Stopping web.2 (v2): node n2 is down; replaced',
        'Stopping web.1 (v1): replaced by v2',
        'Stopping web.2 (v1): replaced by v2',
      ],
    );
    // what n2 was asked to stop cannot be stopped while it is down: forgotten
    s.cluster.heartbeat(['n1']);
    await s.pass();
    assert.deepEqual(
      s.cluster.instanceRows.map((i) => i.nodeId),
      ['node-n1', 'node-n1'],
    );
  });

  it("pauses a deploy's clock while no node is up", async () => {
    const s = setup({ deployTimeoutMs: 60_000 });
    s.cluster.addNode('n1');
    const { v2 } = await deploying(s);
    s.clock.advance(10_001);
    await s.pass();
    assert.equal(s.cluster.node('n1').state, 'down');
    s.clock.advance(120_000);
    await s.pass();
    assert.equal(v2.status, 'deploying', 'no node: no time counted');
    const starting = (): { state: 'starting' } => ({ state: 'starting' });
    s.cluster.heartbeat(['n1'], starting);
    await s.pass();
    assert.equal(v2.status, 'deploying', 'the clock starts again when a node is back');
    s.clock.advance(59_000);
    s.cluster.heartbeat(['n1'], starting);
    await s.pass();
    assert.equal(v2.status, 'deploying');
    s.clock.advance(2_000);
    s.cluster.heartbeat(['n1'], starting);
    await s.pass();
    assert.equal(v2.status, 'failed');
    assert.equal(v2.deployError, 'timed out after 60 s with 0 of 1 instances up');
  });

  it('commits and says nothing when a rollback moves the release first, and plans again', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app, v1, v2, served } = await deploying(s);
    s.cluster.heartbeat();
    const settled = s.messages.settledEvents.length;
    const before = s.cluster.running(app);
    // the plan makes v2 live; a rollback to v1 (a new release, v3) commits first
    let v3: FakeRelease | undefined;
    s.cluster.beforeCommit = () => void (v3 = s.cluster.release(app));
    s.journal.length = 0;
    assert.deepEqual(await s.pass(), { planAgain: true });
    assert.equal(v2.status, 'superseded');
    assert.equal(v2.liveAt, null);
    assert.equal(v1.status, 'live');
    assert.equal(v3?.status, 'deploying');
    assert.deepEqual(s.cluster.running(app), before, 'nothing stopped, nothing started');
    assert.deepEqual(s.messages.take(), []);
    assert.equal(s.messages.settledEvents.length, settled);
    assert.deepEqual(s.journal, [], 'no route written, no agent woken');
    assert.deepEqual(s.routes.backends('shop'), served);
    assert.ok(s.logger.messages.includes('release v2 cannot become live: it is superseded: planning again'));

    assert.deepEqual(await s.pass(), { planAgain: false });
    assert.deepEqual(s.messages.take(), [
      'Deploying v3 (v1 serves until it is up)',
      'Starting web.1 (v3) on n1',
      'Stopping web.1 (an old release): replaced by v3',
    ]);
  });

  it('deploys the newer release when the one building is superseded; the older one never runs', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app, v1 } = await liveApp(s);
    const v2 = s.cluster.release(app, { building: true });
    await s.pass();
    assert.deepEqual(s.messages.take(), [], 'a building release is nothing to deploy');
    // a config change while v2 builds, then v2's build ends
    const v3 = s.cluster.release(app);
    s.cluster.built(v2);
    assert.equal(v2.status, 'superseded');
    await s.pass();
    s.cluster.heartbeat();
    await s.pass();
    assert.equal(v3.status, 'live');
    assert.equal(v2.liveAt, null);
    assert.equal(v1.status, 'superseded');
    assert.deepEqual(s.messages.take(), [
      'Deploying v3 (v1 serves until it is up)',
      'Starting web.1 (v3) on n1',
      'Stopping web.1 (v1): replaced by v3',
      'Deployed v3: the router sends shop to it',
    ]);
    assert.ok(s.cluster.instanceRows.every((i) => i.releaseId !== v2.id));
    assert.deepEqual(
      s.messages.settledEvents.map((e) => e.version),
      [1, 3],
    );
  });

  it('stops the instances of a deploying release that a newer one supersedes; it never goes live', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app, v1, v2 } = await deploying(s);
    s.cluster.heartbeat(undefined, (i) => (i.releaseId === v2.id ? { state: 'starting' } : undefined));
    const v3 = s.cluster.release(app);
    await s.pass();
    assert.deepEqual(s.messages.take(), [
      'Deploying v3 (v1 serves until it is up)',
      'Starting web.1 (v3) on n1',
      'Stopping web.1 (an old release): replaced by v3',
    ]);
    s.cluster.heartbeat();
    await s.pass();
    assert.equal(v3.status, 'live');
    assert.equal(v2.status, 'superseded');
    assert.equal(v2.liveAt, null);
    assert.equal(v1.status, 'superseded');
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v3, up)']);
  });

  it('waits for capacity when scaling: says so once, shows it on the formation, places when room comes', async () => {
    const s = setup();
    s.cluster.addNode('n1', { memory: 1024 });
    const { app } = await liveApp(s);
    s.cluster.scale(app, 'web', { quantity: 3 });
    const notice = 'Waiting for room for 1 web (512 MiB): no node has 512 MiB free';
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Starting web.2 (v1) on n1', notice]);
    const web = () => s.cluster.formationRows.find((f) => f.appId === app.id && f.type === 'web');
    assert.deepEqual([web()?.waiting, web()?.waitingReason], [1, 'no node has 512 MiB free']);
    s.cluster.heartbeat();
    await s.pass();
    await s.pass();
    assert.deepEqual(s.messages.take(), [], 'said once');

    s.cluster.addNode('n2');
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Starting web.3 (v1) on n2']);
    assert.deepEqual([web()?.waiting, web()?.waitingReason], [0, null]);
  });

  it("counts the memory an add-on holds on a node as an instance's", async () => {
    const s = setup();
    const n1 = s.cluster.addNode('n1', { memory: 1024 });
    s.cluster.reservedRows.push({ nodeId: n1.id, appId: 'addon-1', type: 'postgres', memory: 768, cpuShares: 512 });
    const app = s.cluster.addApp('shop');
    s.cluster.release(app);
    await s.pass();
    assert.deepEqual(s.messages.take(), [
      'Deploying v1',
      'Deploy of v1 failed: no room for 1 web (512 MiB): no node has 512 MiB free; nothing else to serve',
    ]);
    assert.deepEqual(s.cluster.running(app), []);
  });

  it('a deploy waits while room is coming (something leaves), noting it on the release', async () => {
    const s = setup();
    const big = await fullNode(s);
    // big scales down: its web.2 leaves, but its memory is held until its agent is done
    s.cluster.scale(big, 'web', { quantity: 1 });
    const shop = s.cluster.addApp('shop');
    const v1 = s.cluster.release(shop);
    await s.pass();
    const notice = 'Waiting for room for 1 web (512 MiB): no node has 512 MiB free';
    assert.deepEqual(s.messages.take(), ['Deploying v1', 'Stopping web.2 (v1): scaled down', notice]);
    assert.equal(v1.status, 'deploying');
    assert.equal(v1.deployNote, notice);
    s.cluster.heartbeat();
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Starting web.1 (v1) on n1']);
    assert.equal(v1.deployNote, null);
    s.cluster.heartbeat();
    await s.pass();
    assert.equal(v1.status, 'live');
  });

  it('fails a deploy nothing can make room for at once, with the reason, instead of at its timeout', async () => {
    const s = setup();
    await fullNode(s);
    const shop = s.cluster.addApp('shop');
    const v1 = s.cluster.release(shop);
    await s.pass();
    const reason = 'no room for 1 web (512 MiB): no node has 512 MiB free';
    assert.equal(v1.status, 'failed');
    assert.equal(v1.deployError, reason);
    assert.deepEqual(s.messages.take(), ['Deploying v1', `Deploy of v1 failed: ${reason}; nothing else to serve`]);
    assert.deepEqual(
      s.messages.settledEvents.filter((e) => e.appId === shop.id).map((e) => [e.status, e.reason]),
      [['failed', reason]],
    );
  });

  it('deploys on a full node by rolling, and the router always has a backend', async () => {
    const s = setup();
    s.cluster.addNode('n1', { memory: 1024 });
    const { app, v1 } = await liveApp(s, 2);
    const v2 = s.cluster.release(app);
    const seen: string[][] = [];
    const step = async (): Promise<void> => {
      await s.pass();
      seen.push(s.routes.backends('shop'));
      s.cluster.heartbeat();
    };
    await step();
    assert.deepEqual(s.messages.take(), [
      'Deploying v2 (v1 serves until it is up)',
      'Stopping web.2 (v1): making room for v2: no room for a second copy',
      'Rolling: no room for a second copy of 2 web (512 MiB); replacing a few at a time',
    ]);
    // rolling is not waiting: the release does not say it waits, the formation has nothing waiting
    assert.equal(v2.deployNote, null);
    assert.equal(s.cluster.formationRows.find((f) => f.type === 'web')?.waiting, 0);
    for (let k = 0; k < 6 && v2.status !== 'live'; k++) await step();
    assert.equal(v2.status, 'live');
    assert.equal(v1.status, 'superseded');
    await step();
    assert.ok(
      seen.every((b) => b.length >= 1),
      `a pass left the router without a backend: ${JSON.stringify(seen)}`,
    );
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v2, up)', 'web.2@n1 (v2, up)']);
    assert.equal(s.routes.backends('shop').length, 2);
  });

  it('writes only the routes that changed: a broken entry is rewritten, a deleted app removed', async () => {
    const s = setup();
    s.routes.table.set('shop', '');
    s.routes.table.set('gone', JSON.stringify({ app: 'gone', hosts: [], backends: [], check: { type: 'tcp' } }));
    s.cluster.addNode('n1');
    const app = s.cluster.addApp('shop');
    s.cluster.release(app, { healthchecks: { web: [{ type: 'startup', path: '/health' }] } });
    await s.pass();
    assert.deepEqual(s.journal.splice(0), ['route shop:', 'unroute gone', 'wake n1']);
    assert.deepEqual([...s.routes.table.keys()], ['shop']);
    s.cluster.heartbeat();
    await s.pass();
    const route = JSON.parse(s.routes.table.get('shop') ?? '{}');
    assert.deepEqual(route.check, { type: 'http', path: '/health' });
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.journal, [], 'nothing changed');
    s.cluster.domainRows.push({ appId: app.id, hostname: 'shop.example.com' });
    await s.pass();
    assert.deepEqual(JSON.parse(s.routes.table.get('shop') ?? '{}').hosts, ['shop.example.com']);
    s.cluster.appRows.length = 0;
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.journal, ['unroute shop']);
  });

  it("writes an app's HTTPS redirect and HSTS into its route, and nothing of them while both are off", async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const app = s.cluster.addApp('shop');
    s.cluster.release(app);
    await s.pass();
    assert.equal(JSON.parse(s.routes.table.get('shop') ?? '{}').https, undefined);
    s.cluster.appRows[0] = { ...app, httpsRedirect: true, hstsMaxAge: null };
    await s.pass();
    assert.deepEqual(JSON.parse(s.routes.table.get('shop') ?? '{}').https, { redirect: true, hstsMaxAge: null });
    s.cluster.appRows[0] = { ...app, httpsRedirect: false, hstsMaxAge: 31_536_000 };
    await s.pass();
    assert.deepEqual(JSON.parse(s.routes.table.get('shop') ?? '{}').https, { redirect: false, hstsMaxAge: 31_536_000 });
    s.cluster.appRows[0] = { ...app, httpsRedirect: false, hstsMaxAge: null };
    await s.pass();
    assert.equal(JSON.parse(s.routes.table.get('shop') ?? '{}').https, undefined, 'off again');
  });

  it("writes an app's maintenance mode into its route with its backends, and stops nothing for it", async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 2);
    const route = (): { backends: unknown[]; maintenance?: boolean } => JSON.parse(s.routes.table.get('shop') ?? '{}');
    const backends = route().backends;
    assert.equal(backends.length, 2);
    assert.equal('maintenance' in route(), false);
    const running = s.cluster.running(app);
    s.cluster.appRows[0] = { ...app, maintenance: true };
    s.journal.length = 0;
    await s.pass();
    assert.equal(route().maintenance, true);
    assert.deepEqual(route().backends, backends, 'the backends stay in the route');
    assert.deepEqual(s.cluster.running(app), running, 'no instance stopped or started');
    assert.deepEqual(
      s.journal.map((line) => line.split(':')[0]),
      ['route shop'],
      'only the route was written',
    );
    assert.deepEqual(s.messages.take(), [], 'nothing deployed, stopped or restarted to tell of');
    s.cluster.appRows[0] = { ...app, maintenance: false };
    await s.pass();
    assert.equal('maintenance' in route(), false, 'off again');
    assert.deepEqual(route().backends, backends);
  });

  it('puts right a route another process wrote (an old leader before it knew it lost office)', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    await liveApp(s, 2);
    const before = new Map(s.routes.table);
    const stale = JSON.parse(before.get('shop') ?? '{}') as AppRoute;
    await s.routes.write({ ...stale, backends: [] });
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.journal.splice(0), [`route shop: ${s.routes.backends('shop').join(' ')}`]);
    assert.deepEqual(s.routes.table, before);
    await s.pass();
    assert.deepEqual(s.journal.splice(0), [], 'and then nothing more');
  });

  it('writes the whole route table again, at once, when Redis lost it', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    await liveApp(s, 2);
    const other = s.cluster.addApp('blog');
    s.cluster.release(other);
    await s.pass();
    s.cluster.heartbeat();
    await s.pass();
    const before = new Map(s.routes.table);
    assert.equal(before.size, 2);
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.journal.splice(0), [], 'nothing changed, nothing written');

    s.routes.lose();
    await s.pass();
    assert.deepEqual(
      s.journal.splice(0).filter((l) => l.startsWith('rebuild') || l.startsWith('route')),
      ['rebuild blog shop'],
      'one write of every route, not app by app',
    );
    assert.deepEqual(s.routes.table, before);
    await s.pass();
    assert.deepEqual(s.journal.splice(0), [], 'and then nothing more');
  });
});

describe('scale to zero', () => {
  /** `shop` live with web at 1, autoscale 0..3, idle 15 min. */
  async function napper(s: Setup): Promise<{ app: PassApp }> {
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 1);
    s.cluster.scale(app, 'web', {
      autoscaleMin: 0,
      autoscaleMax: 3,
      autoscaleConcurrency: 20,
      autoscaleIdleMs: 900_000,
      updatedAt: new Date(s.clock.now()),
    });
    return { app };
  }
  /** Time passes, the node heartbeats (up as it was). */
  const later = (s: Setup, ms: number): void => {
    s.clock.advance(ms);
    s.cluster.heartbeat(undefined, (i) => ({ state: i.state === 'pending' ? 'starting' : i.state }));
  };
  const route = (s: Setup): AppRoute => JSON.parse(s.routes.table.get('shop') ?? '{}') as AppRoute;

  it('sleeps once idle with nothing in flight, and its route says so', async () => {
    const s = setup();
    const { app } = await napper(s);
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now(), inflight: 0 });
    later(s, 899_000);
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)'], 'a request 899 s ago');
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now() - 2_000_000, inflight: 1 });
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)'], 'a request in flight');
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now() - 900_000, inflight: 0 });
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, up)'], 'autoscale was set 899 s ago');
    later(s, 1000);
    await s.pass();
    assert.deepEqual(s.cluster.running(app), []);
    assert.equal(s.cluster.formationRows.find((f) => f.type === 'web')?.quantity, 0);
    assert.deepEqual(s.messages.take(), [
      'web idle for 15m with nothing in flight: sleeping (scaled to 0)',
      'Stopping web.1 (v1): scaled down',
    ]);
    // the route leaves first, and says to hold and wake rather than answer 503
    assert.deepEqual(s.journal.splice(0), ['route shop:', 'wake n1']);
    assert.equal(route(s).sleeping, true);
    assert.equal(route(s).wakeRetryAt, undefined);
  });

  it('wakes at once when a router asks: placed in that pass, its agent told, the stages in the log', async () => {
    const s = setup();
    const { app } = await napper(s);
    later(s, 900_000);
    // a wake asked before it went to sleep (a router still held requests) is deleted then: no wake
    s.wakes.asked.set('shop', s.clock.now() - 60_000);
    await s.pass();
    assert.deepEqual(s.wakes.taken_, ['shop']);
    s.cluster.heartbeat();
    s.messages.take();
    s.journal.length = 0;
    await s.pass();
    assert.deepEqual(s.cluster.running(app), []);
    later(s, 10_000);
    s.wakes.asked.set('shop', s.clock.now() - 3);
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, starting)']);
    assert.deepEqual(s.messages.take(), ['Waking web: requested 3 ms ago', 'Starting web.1 (v1) on n1']);
    assert.deepEqual(s.journal.splice(0), ['wake n1']);
    assert.equal(route(s).sleeping, true, 'still holding: nothing serves yet');
    s.clock.advance(20);
    s.cluster.heartbeat(undefined, () => ({ state: 'starting' }));
    await s.pass();
    s.clock.advance(30);
    s.cluster.heartbeat();
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Woke web: requested, placed +3 ms, started +23 ms, healthy +53 ms']);
    // a router says when the first byte went out: in the log at the next pass
    s.wakes.firstBytes.set('shop', 61);
    await s.pass();
    assert.deepEqual(s.messages.take(), ['Woke web: first byte to the client +61 ms after its request']);
    assert.equal(s.routes.backends('shop').length, 1);
    assert.equal(route(s).sleeping, undefined);
    // awake: the idle period counts from when it came up (not from the wake's request)
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now() - 2_000_000, inflight: 0 });
    later(s, 899_999);
    await s.pass();
    assert.equal(s.routes.backends('shop').length, 1);
    later(s, 1);
    await s.pass();
    assert.equal(s.routes.backends('shop').length, 0);
  });

  it('sends a wake that crashes back to sleep, and takes no other before a back-off', async () => {
    const s = setup({ wakeBackoff: { firstMs: 5000, capMs: 5000 } });
    const { app } = await napper(s);
    later(s, 900_000);
    await s.pass();
    s.cluster.heartbeat();
    later(s, 1000);
    s.wakes.asked.set('shop', s.clock.now());
    await s.pass();
    s.messages.take();
    s.cluster.heartbeat(undefined, () => ({ state: 'crashed', error: 'exited with status 1; restarting' }));
    await s.pass();
    const [failed, ...rest] = s.messages.take();
    assert.match(
      failed ?? '',
      /^Wake of web failed: web\.1 failed: exited with status 1; restarting; sleeping, no wake for [345] s$/,
    );
    assert.deepEqual(rest, ['Stopping web.1 (v1): scaled down']);
    const retryAt = route(s).wakeRetryAt ?? 0;
    assert.ok(retryAt > s.clock.now() && retryAt <= s.clock.now() + 5000, String(retryAt));
    assert.equal(route(s).sleeping, true);
    s.cluster.heartbeat();
    // asked again within the back-off: refused, nothing starts
    s.wakes.asked.set('shop', s.clock.now());
    await s.pass();
    assert.deepEqual(s.cluster.running(app), []);
    assert.deepEqual(s.messages.take(), []);
    // after it: a new wake
    later(s, 5000);
    s.wakes.asked.set('shop', s.clock.now());
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, starting)']);
    assert.equal(route(s).wakeRetryAt, undefined);
  });
});

describe('scale to zero: the review of #24', () => {
  async function napper(s: Setup, name = 'shop'): Promise<PassApp> {
    s.cluster.addNode('n1');
    const app = s.cluster.addApp(name);
    s.cluster.release(app);
    s.cluster.scale(app, 'web', {
      quantity: 1,
      autoscaleMin: 0,
      autoscaleMax: 3,
      autoscaleConcurrency: 20,
      autoscaleIdleMs: 900_000,
      updatedAt: new Date(s.clock.now()),
    });
    return app;
  }
  const route = (s: Setup): AppRoute => JSON.parse(s.routes.table.get('shop') ?? '{}') as AppRoute;

  it("wakes for an ask made after it slept, whatever the routers' clock says", async () => {
    const s = setup();
    const app = await napper(s);
    await s.pass();
    s.cluster.heartbeat();
    s.clock.advance(900_000);
    s.cluster.heartbeat();
    await s.pass();
    assert.deepEqual(s.cluster.running(app), []);
    s.cluster.heartbeat();
    // a router whose clock is five minutes behind the database's
    s.wakes.asked.set('shop', s.clock.now() - 300_000);
    await s.pass();
    assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, starting)']);
  });

  it('backs off further when a woken instance crashes soon after its check, and forgets it once it stayed up', async () => {
    const s = setup({ wakeBackoff: { firstMs: 5000, capMs: 300_000 } });
    const app = await napper(s);
    await s.pass();
    s.cluster.heartbeat();
    s.clock.advance(900_000);
    s.cluster.heartbeat();
    await s.pass();
    s.cluster.heartbeat();
    /** Asks for a wake, lets it pass its check, then `upMs` later it crashes: how long until the next wake. */
    const wakeAndCrash = async (upMs: number): Promise<number> => {
      s.clock.advance(300_000);
      s.cluster.heartbeat();
      s.wakes.asked.set('shop', s.clock.now());
      await s.pass();
      assert.deepEqual(s.cluster.running(app), ['web.1@n1 (v1, starting)']);
      s.cluster.heartbeat(undefined, () => ({ state: 'up' }));
      await s.pass();
      assert.equal(s.routes.backends('shop').length, 1, 'woken');
      s.clock.advance(upMs);
      s.cluster.heartbeat(undefined, () => ({ state: 'up' }));
      await s.pass();
      s.cluster.heartbeat(undefined, () => ({ state: 'crashed', error: 'exited with status 1; restarting' }));
      await s.pass();
      assert.equal(route(s).sleeping, true, 'asleep again');
      s.cluster.heartbeat();
      return (route(s).wakeRetryAt ?? 0) - s.clock.now();
    };
    const first = await wakeAndCrash(1000);
    assert.ok(first >= 2500 && first < 5000, `first back-off ${first}`);
    const second = await wakeAndCrash(3000);
    assert.ok(second >= 5000 && second < 10_000, `second back-off ${second}: the quick crash counts as a failure`);
    const third = await wakeAndCrash(60_000);
    assert.ok(third >= 2500 && third < 5000, `after a minute up the failures are forgotten: ${third}`);
  });

  it("reads every autoscaled app's activity in one call per pass", async () => {
    const s = setup();
    await napper(s, 'shop');
    await napper(s, 'blog');
    const plain = s.cluster.addApp('plain');
    s.cluster.release(plain);
    s.wakes.reads.length = 0;
    await s.pass();
    assert.deepEqual(
      s.wakes.reads.map((names) => [...names].sort()),
      [['blog', 'shop']],
    );
  });
});

describe('autoscale by load', () => {
  it('scales web up at once for the requests in flight, and down after the quiet period', async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 1);
    s.cluster.scale(app, 'web', {
      autoscaleMin: 1,
      autoscaleMax: 4,
      autoscaleConcurrency: 10,
      autoscaleIdleMs: 60_000,
      updatedAt: new Date(s.clock.now()),
    });
    const later = (ms: number): void => {
      s.clock.advance(ms);
      s.cluster.heartbeat();
    };
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now(), inflight: 25 });
    await s.pass();
    assert.deepEqual(s.messages.take(), [
      'Scaling web to 3: 25 requests in flight, 10 per instance',
      'Starting web.2 (v1) on n1',
      'Starting web.3 (v1) on n1',
    ]);
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now(), inflight: 500 });
    await s.pass();
    assert.equal(s.cluster.formationRows.find((f) => f.type === 'web')?.quantity, 4, 'max');
    s.messages.take();
    later(1000);
    await s.pass();
    s.wakes.seen.set('shop', { lastRequestAt: s.clock.now(), inflight: 5 });
    await s.pass();
    later(59_000);
    await s.pass();
    assert.equal(s.routes.backends('shop').length, 4, 'not before the quiet period');
    later(1000);
    await s.pass();
    assert.equal(s.cluster.formationRows.find((f) => f.type === 'web')?.quantity, 1);
    assert.equal(s.messages.take()[0], 'Scaling web down to 1: 5 requests in flight for 1m');
    assert.equal(s.routes.backends('shop').length, 1, 'the others leave the routes first');
    // min 1: never to zero, however idle
    s.wakes.seen.set('shop', { lastRequestAt: 0, inflight: 0 });
    later(3_600_000);
    await s.pass();
    assert.equal(s.routes.backends('shop').length, 1);
  });
  it("writes web's hard limit into its route, and takes it out once autoscale is off", async () => {
    const s = setup();
    s.cluster.addNode('n1');
    const { app } = await liveApp(s, 1);
    const route = (): AppRoute => JSON.parse(s.routes.table.get('shop') ?? '{}') as AppRoute;
    await s.pass();
    assert.equal('hardLimit' in route(), false, 'no autoscale: no limit');
    const settings = { autoscaleMin: 1, autoscaleMax: 4, autoscaleConcurrency: 10, autoscaleIdleMs: 60_000 };
    s.cluster.scale(app, 'web', { ...settings, autoscaleHardLimit: 15, updatedAt: new Date(s.clock.now()) });
    await s.pass();
    assert.equal(route().hardLimit, 15);
    assert.equal(s.routes.backends('shop').length, 1, 'the same backends');
    s.cluster.scale(app, 'web', {
      autoscaleMin: null,
      autoscaleMax: null,
      autoscaleConcurrency: null,
      autoscaleIdleMs: null,
      autoscaleHardLimit: null,
    });
    await s.pass();
    assert.equal('hardLimit' in route(), false);
  });
});
