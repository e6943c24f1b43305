import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { DesiredInstance } from '@paas/platform';
import { parsePrometheus, sampleValue } from '@paas/platform/testing';
import { Agent, REFUSED_RETRY_MS } from './agent';
import { loadAgentConfig } from './config';
import {
  FakeAppLog,
  FakeChecker,
  FakeClock,
  FakeControlPlane,
  FakeImages,
  FakeMarks,
  FakeNudges,
  FakeRuntime,
  desiredInstance,
  settle,
} from './testing/fakes';

/** The node's components that outlive one agent: what a restarted agent finds again. */
interface Node {
  readonly runtime: FakeRuntime;
  readonly marks: FakeMarks;
  readonly images: FakeImages;
  readonly api: FakeControlPlane;
  readonly checker: FakeChecker;
  readonly appLog: FakeAppLog;
  readonly nudges: FakeNudges;
  readonly clock: FakeClock;
  readonly lines: string[];
}

function node(): Node {
  return {
    runtime: new FakeRuntime(),
    marks: new FakeMarks(),
    images: new FakeImages(),
    api: new FakeControlPlane(),
    checker: new FakeChecker(),
    appLog: new FakeAppLog(),
    nudges: new FakeNudges(),
    clock: new FakeClock(),
    lines: [],
  };
}

const config = loadAgentConfig({ PAAS_NODE_NAME: 'n1', PAAS_ROOT: '/nonexistent', PAAS_RUN: '/nonexistent' });
/** The node's bridge gateway: where its containers reach its add-ons. */
const SERVICE_ADDRESS = '10.88.0.1';

/** An agent on `n`, started; stopped when the test ends. */
async function agentOn(t: TestContext, n: Node): Promise<Agent> {
  const agent = new Agent({
    config,
    serviceAddress: SERVICE_ADDRESS,
    runtime: n.runtime,
    images: n.images,
    api: n.api,
    checker: n.checker,
    marks: n.marks,
    appLog: n.appLog,
    nudges: n.nudges,
    clock: n.clock,
    log: (line) => n.lines.push(line),
  });
  t.after(async () => {
    // stopping waits for leaving instances, whose drain runs on this clock
    let stopped = false;
    const stopping = agent.stop().then(() => (stopped = true));
    for (let i = 0; i < 100 && !stopped; i++) await n.clock.advance(1000);
    await stopping;
  });
  await agent.start();
  await settle();
  return agent;
}

/** A previous agent ran `desired` on `n` and stopped, leaving its containers running. */
async function previousAgent(t: TestContext, n: Node, desired: DesiredInstance[]): Promise<void> {
  n.api.desired = desired;
  const first = await agentOn(t, n);
  await first.stop();
}

const count = (lines: readonly string[], part: string): number => lines.filter((l) => l.includes(part)).length;

describe('agent', () => {
  it('runs a desired instance: pulls, creates with its labels, starts, checks, reports it up', async (t) => {
    const n = node();
    const d = desiredInstance({ command: 'npm start' });
    n.api.desired = [d];
    n.runtime.output = ['listening on 5000'];
    await agentOn(t, n);

    assert.deepEqual(n.images.pulls, [d.image]);
    assert.deepEqual(n.runtime.calls, [`create c1 ${d.image}`, 'start c1']);
    const record = n.runtime.containers.get('c1')?.record;
    assert.equal(record?.labels['paas.instance'], d.id);
    assert.equal(record?.labels['paas.node'], 'n1');
    // a Procfile command other than the image's own runs under sh -c
    assert.deepEqual(record?.args, ['/bin/sh', '-c', 'npm start']);
    // its size: memory limit and CPU weight, no hard CPU limit unless the size has one
    assert.deepEqual(record?.run.resources, { memory: 512 * 2 ** 20, cpuShares: 1024, pidsLimit: 1024 });
    assert.equal(n.checker.runs, 1);
    assert.deepEqual(n.api.last(d.id), {
      id: d.id,
      releaseId: d.releaseId,
      state: 'up',
      containerId: 'c1',
      address: '10.0.0.1:5000',
      pid: 4242,
      memoryBytes: 1024,
      restartCount: 0,
      error: null,
    });
    assert.equal(n.marks.marks.get('c1'), 0, 'the passed check is remembered for a restarted agent');
    assert.deepEqual(n.appLog.lines, ['app-shop web.1: listening on 5000']);
  });

  it('gives a size with a CPU quota its hard limit', async (t) => {
    const n = node();
    n.api.desired = [desiredInstance({ size: 'nano', memory: 32, cpuShares: 64, cpuQuota: 250 })];
    await agentOn(t, n);
    assert.deepEqual(n.runtime.containers.get('c1')?.record.run.resources, {
      memory: 32 * 2 ** 20,
      cpuShares: 64,
      cpus: 0.25,
      pidsLimit: 1024,
    });
  });

  it("runs the image's own command as it is, without sh -c", async (t) => {
    const n = node();
    n.api.desired = [desiredInstance({ command: 'node server.js' })];
    await agentOn(t, n);
    assert.deepEqual(n.runtime.containers.get('c1')?.record.args, []);
  });

  it('reports an instance that fails its check crashed with why, and replaces it after a backoff', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    n.checker.failure = 'TCP connect to port 5000 failed 3 times: connection refused';
    await agentOn(t, n);

    assert.equal(n.api.last(d.id)?.state, 'crashed');
    assert.equal(n.api.last(d.id)?.error, n.checker.failure);
    assert.equal(count(n.lines, 'connection refused; trying again in 5 s'), 1);
    assert.deepEqual(n.runtime.made('remove'), [], 'kept until the next try, for its logs');

    n.checker.failure = null;
    await n.clock.advance(5000);
    assert.deepEqual(n.runtime.made('remove'), ['c1'], 'the failed container is removed');
    assert.deepEqual(n.runtime.made('create'), ['c1', 'c2'], 'and a new one made');
    assert.equal(n.api.last(d.id)?.state, 'up');
    assert.equal(n.api.last(d.id)?.containerId, 'c2');
    assert.equal(n.marks.marks.has('c1'), false);
  });

  it('counts for Prometheus what it started, what failed to start or its check, and failed heartbeats', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    n.checker.failure = 'TCP connect to port 5000 failed 3 times: connection refused';
    const agent = await agentOn(t, n);
    const value = async (name: string, labels: Record<string, string> = {}) =>
      sampleValue(parsePrometheus(await agent.metrics.registry.metrics()), name, labels);
    assert.equal(await value('paas_agent_container_starts_total'), 1);
    assert.equal(await value('paas_agent_health_check_failures_total'), 1);
    assert.equal(await value('paas_agent_instances', { state: 'crashed' }), 1);

    n.checker.failure = null;
    n.images.pullError = new Error('127.0.0.1:5000: ECONNREFUSED');
    await n.clock.advance(5000);
    assert.equal(await value('paas_agent_container_start_failures_total'), 1, 'the pull failed');
    assert.equal(await value('paas_agent_container_starts_total'), 1);

    assert.equal(await value('paas_agent_heartbeat_failures_total'), 0);
    assert.ok(((await value('paas_agent_convergence_pass_duration_seconds_count')) ?? 0) >= 1);
    n.api.down = true;
    await n.clock.advance(3000);
    assert.ok(((await value('paas_agent_heartbeat_failures_total')) ?? 0) >= 1);
  });

  it('checks an instance the shim restarted again before it counts as up', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    assert.equal(n.checker.runs, 1);

    n.checker.failure = 'TCP connect to port 5000 failed 3 times: connection refused';
    n.runtime.restarted('c1');
    await n.clock.advance(1000);
    assert.equal(n.checker.runs, 2);
    assert.equal(count(n.lines, 'checking it again: it was restarted'), 1);
    assert.equal(n.api.last(d.id)?.state, 'crashed');
  });

  it('keeps running instances running while the control plane is unreachable', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    assert.equal(n.api.last(d.id)?.state, 'up');

    n.api.down = true;
    await n.clock.advance(30_000);
    assert.deepEqual(n.runtime.calls, [`create c1 ${d.image}`, 'start c1'], 'nothing stopped, removed or made');
    assert.equal(n.runtime.containers.get('c1')?.state.running, true);
    assert.equal(count(n.lines, 'heartbeat: '), 1, 'the outage is logged once, not every beat');

    n.api.down = false;
    const before = n.api.heartbeats.length;
    await n.clock.advance(1000);
    assert.ok(n.api.heartbeats.length > before);
    assert.equal(n.api.last(d.id)?.state, 'up');
    assert.equal(count(n.lines, 'the control plane answers again'), 1);
  });

  it('says once that its credential was revoked, and asks again only every minute, not every beat', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    const agent = await agentOn(t, n);
    n.api.refused = 'node credential revoked: node n1 was removed (paas nodes:remove)';
    const before = n.api.calls;
    await n.clock.advance(REFUSED_RETRY_MS * 3);
    agent.poke(); // an instance changing meanwhile does not make it ask sooner
    await n.clock.advance(1000);
    const asked = n.api.calls - before;
    assert.ok(asked >= 3 && asked <= 5, `asked ${asked} times in 3 minutes`);
    assert.equal(count(n.lines, "the control plane refuses this node's credential: "), 1, n.lines.join('\n'));
    assert.match(n.lines.join('\n'), /node credential revoked: node n1 was removed.*paas node join/);
    assert.equal(n.runtime.containers.get('c1')?.state.running, true, 'its instances keep running');
    n.api.refused = null;
    await n.clock.advance(REFUSED_RETRY_MS);
    assert.equal(count(n.lines, 'the control plane answers again'), 1);
  });

  it('adopts the containers of a previous agent after a restart instead of making them again', async (t) => {
    const n = node();
    const d = desiredInstance();
    await previousAgent(t, n, [d]);
    assert.equal(n.runtime.containers.get('c1')?.state.running, true, 'stopping the agent leaves its containers');

    await agentOn(t, n);
    await n.clock.advance(5000);
    assert.deepEqual(n.runtime.made('create'), ['c1'], 'no second container');
    assert.deepEqual(n.runtime.made('stop'), []);
    assert.equal(n.checker.runs, 1, 'checked at this restart count already: up at once');
    assert.equal(n.api.last(d.id)?.state, 'up');
    assert.equal(n.api.last(d.id)?.containerId, 'c1');
    assert.equal(count(n.lines, 'adopted shop web.1 (container c1'), 1);
  });

  it('checks an adopted container whose check had not passed once it is desired', async (t) => {
    const n = node();
    const d = desiredInstance();
    await previousAgent(t, n, [d]);
    n.marks.marks.clear(); // the previous agent stopped before the check passed

    await agentOn(t, n);
    assert.deepEqual(n.runtime.made('create'), ['c1']);
    assert.equal(n.checker.runs, 2);
    assert.equal(count(n.lines, 'checking it again: it was adopted before its check had passed'), 1);
    assert.equal(n.api.last(d.id)?.state, 'up');
  });

  it('removes an adopted container that had stopped for good, and adopts no other containers', async (t) => {
    const n = node();
    await previousAgent(t, n, [desiredInstance()]);
    const c1 = n.runtime.containers.get('c1');
    assert.ok(c1);
    c1.state = { ...c1.state, status: 'exited', running: false, exitCode: 1 };
    await n.runtime.create('busybox', { run: { env: [], binds: [], resources: {} } }); // not an instance
    n.api.desired = [];

    await agentOn(t, n);
    assert.deepEqual(n.runtime.made('remove'), ['c1']);
    assert.deepEqual([...n.runtime.containers.keys()], ['c2']);
    assert.deepEqual(n.api.heartbeats.at(-1), []);
  });

  it('drains, stops with its stop timeout, and removes an instance that left the desired set', async (t) => {
    const n = node();
    const d = desiredInstance({ stopTimeout: 7 });
    n.api.desired = [d];
    await agentOn(t, n);

    n.api.desired = [];
    n.api.drainMs = 3000;
    await n.clock.advance(1000); // the heartbeat that hears it left
    await n.clock.advance(1000);
    assert.equal(n.api.last(d.id)?.state, 'stopping');
    assert.deepEqual(n.runtime.made('stop'), [], 'still serving its in-flight requests');

    await n.clock.advance(2000);
    assert.deepEqual(n.runtime.calls.slice(-2), ['stop c1 7', 'remove c1']);
    assert.equal(n.marks.marks.has('c1'), false);
    await n.clock.advance(1000);
    assert.deepEqual(n.api.heartbeats.at(-1), [], 'no longer reported');
  });

  it('makes nothing of an instance that left the desired set while its image was being pulled', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    let pulled = (): void => undefined;
    n.images.pullGate = new Promise((resolve) => (pulled = resolve));
    try {
      await agentOn(t, n);
      await n.clock.advance(1000);
      assert.equal(n.api.last(d.id)?.state, 'starting');

      n.api.desired = [];
      await n.clock.advance(1000); // the heartbeat that hears it left
      await n.clock.advance(1000);
      assert.equal(n.api.last(d.id)?.state, 'stopping');
    } finally {
      pulled();
    }
    await n.clock.advance(5000);
    assert.deepEqual(n.runtime.calls, [], 'no container made for it');
    assert.deepEqual(n.api.heartbeats.at(-1), [], 'and it is gone');
  });

  it('heartbeats at once when the control plane nudges the node', async (t) => {
    const n = node();
    await agentOn(t, n);
    const d = desiredInstance();
    n.api.desired = [d];
    n.nudges.nudge();
    await settle();
    assert.deepEqual(n.runtime.made('create'), ['c1'], 'without waiting for the next beat');
  });

  it('reports a pull failure with its reason once per attempt and retries with backoff', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    n.images.pullError = new Error('127.0.0.1:5000: ECONNREFUSED');
    await agentOn(t, n);

    assert.equal(n.images.pulls.length, 1);
    assert.deepEqual(n.runtime.calls, []);
    assert.equal(n.api.last(d.id)?.state, 'crashed');
    assert.equal(n.api.last(d.id)?.error, '127.0.0.1:5000: ECONNREFUSED');
    assert.equal(count(n.lines, 'shop web.1 (v3): 127.0.0.1:5000: ECONNREFUSED; trying again in 5 s'), 1);

    await n.clock.advance(4999);
    assert.equal(n.images.pulls.length, 1, 'not before the backoff');
    assert.equal(count(n.lines, 'ECONNREFUSED'), 1, 'not logged again every heartbeat');
    await n.clock.advance(1);
    assert.equal(n.images.pulls.length, 2);
    assert.equal(count(n.lines, 'trying again in 10 s'), 1, 'the backoff doubles');
    await n.clock.advance(9999);
    assert.equal(n.images.pulls.length, 2);
    await n.clock.advance(1);
    assert.equal(n.images.pulls.length, 3);

    n.images.pullError = null;
    await n.clock.advance(20_000);
    assert.equal(n.images.pulls.length, 4);
    assert.equal(n.api.last(d.id)?.state, 'up');
  });

  it('fails an instance whose config holds a NUL once, with the reason, and never tries again', async (t) => {
    const n = node();
    const d = desiredInstance({ env: { PORT: '5000', SECRET: 'a\0b' } });
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(600_000);

    assert.equal(n.api.last(d.id)?.state, 'crashed');
    assert.equal(n.api.last(d.id)?.error, 'config var SECRET holds a NUL byte, which no environment can hold');
    assert.equal(count(n.lines, 'not trying again'), 1);
    assert.deepEqual(n.images.pulls, [], 'nothing pulled');
    assert.deepEqual(n.runtime.calls, [], 'nothing created');
  });
});

describe('agent and add-ons', () => {
  const VOLUME = 'addon-postgres-amber-12345';
  /** The add-on postgres-amber-12345 (made for app shop) as the control plane places it on this node. */
  const addon = (overrides: Partial<DesiredInstance> = {}): DesiredInstance =>
    desiredInstance({
      id: 'a-0000000000000001',
      app: 'postgres-amber-12345',
      type: 'postgres',
      number: 1,
      releaseId: 'a-0000000000000001',
      version: 1,
      image: 'postgres:latest',
      env: { POSTGRES_PASSWORD: 'secret' },
      port: 5432,
      check: { kind: 'tcp', port: 5432, attempts: 3, timeoutMs: 1000, intervalMs: 250, initialDelayMs: 0 },
      addon: {
        name: 'postgres-amber-12345',
        type: 'postgres',
        volume: VOLUME,
        target: '/var/lib/postgresql/data',
        hostPort: 20001,
        fresh: true,
      },
      ...overrides,
    });

  it('registers the address its add-ons are reached at', async (t) => {
    const n = node();
    await agentOn(t, n);
    assert.equal(n.api.registrations[0]?.serviceAddress, SERVICE_ADDRESS);
  });

  it("gives an app's instance the add-on endpoints it may reach, and none when it has none", async (t) => {
    const n = node();
    const reach = [{ address: SERVICE_ADDRESS, port: 20001 }];
    n.api.desired = [desiredInstance({ reach }), desiredInstance({ id: 'i-web-2-0000000000', number: 2 })];
    await agentOn(t, n);
    assert.deepEqual(
      n.runtime.created.map((o) => o.reach),
      [reach, []],
    );
  });

  it("changes a running instance's reach in place when its app's add-ons change: no restart, no new container", async (t) => {
    const n = node();
    const db = { address: SERVICE_ADDRESS, port: 20001 };
    const cache = { address: SERVICE_ADDRESS, port: 20002 };
    const d = desiredInstance({ reach: [db] });
    n.api.desired = [d];
    await agentOn(t, n);
    assert.equal(n.api.last(d.id)?.state, 'up');
    const said = n.lines.length;

    // attached: a second add-on
    n.api.desired = [{ ...d, reach: [db, cache] }];
    await n.clock.advance(1000);
    assert.deepEqual(n.runtime.calls.slice(2), [`setReach c1 ${SERVICE_ADDRESS}:20001,${SERVICE_ADDRESS}:20002`]);
    assert.deepEqual(n.runtime.containers.get('c1')?.record.network.reach, [db, cache]);

    // detached: none left
    n.api.desired = [{ ...d, reach: [] }];
    await n.clock.advance(1000);
    assert.deepEqual(n.runtime.calls.slice(2), [
      `setReach c1 ${SERVICE_ADDRESS}:20001,${SERVICE_ADDRESS}:20002`,
      'setReach c1 ',
    ]);
    assert.equal(n.runtime.containers.get('c1')?.record.network.reach, undefined);
    assert.deepEqual(n.runtime.made('create'), ['c1'], 'the same container');
    assert.deepEqual(n.runtime.made('stop'), []);
    assert.equal(n.checker.runs, 1, 'not checked again: it never stopped');
    assert.equal(n.api.last(d.id)?.state, 'up');
    assert.deepEqual(n.lines.slice(said), [], 'nothing said in the node log');
  });

  it('leaves the reach alone when a new set names the same add-ons (in another order)', async (t) => {
    const n = node();
    const db = { address: SERVICE_ADDRESS, port: 20001 };
    const cache = { address: SERVICE_ADDRESS, port: 20002 };
    const d = desiredInstance({ reach: [db, cache] });
    n.api.desired = [d];
    await agentOn(t, n);
    n.api.desired = [{ ...d, reach: [cache, db] }];
    await n.clock.advance(5000);
    assert.ok(n.api.requests.filter((r) => r.sentSet).length >= 2, 'the new set was sent');
    assert.deepEqual(n.runtime.made('setReach'), []);
    assert.deepEqual(n.runtime.calls, [`create c1 ${d.image}`, 'start c1']);
  });

  it("changes an adopted container's reach to its desired entry's", async (t) => {
    const n = node();
    const db = { address: SERVICE_ADDRESS, port: 20001 };
    const d = desiredInstance({ reach: [db] });
    await previousAgent(t, n, [d]);
    n.api.desired = [{ ...d, reach: [] }]; // detached while no agent ran

    await agentOn(t, n);
    assert.deepEqual(n.runtime.made('setReach'), ['c1']);
    assert.equal(n.runtime.containers.get('c1')?.record.network.reach, undefined);
    assert.deepEqual(n.runtime.made('create'), ['c1'], 'adopted, not made again');
  });

  it('says once that a reach change failed, and tries again at the next heartbeats until it is done', async (t) => {
    const n = node();
    const db = { address: SERVICE_ADDRESS, port: 20001 };
    const d = desiredInstance({ reach: [db] });
    n.api.desired = [d];
    await agentOn(t, n);

    n.runtime.failing.set('setReach', new Error('ipset: the kernel refused'));
    n.api.desired = [{ ...d, reach: [] }];
    await n.clock.advance(3000);
    assert.equal(
      count(n.lines, 'shop web.1: changing its add-on reach: ipset: the kernel refused'),
      1,
      n.lines.join('\n'),
    );
    assert.deepEqual(n.runtime.containers.get('c1')?.record.network.reach, [db], 'unchanged so far');

    n.runtime.failing.delete('setReach');
    await n.clock.advance(1000);
    assert.deepEqual(n.runtime.calls.slice(-1), ['setReach c1 ']);
    assert.equal(n.runtime.containers.get('c1')?.record.network.reach, undefined);
    assert.deepEqual(n.runtime.made('create'), ['c1']);
  });

  it('runs an add-on: its image bootstrapped, never pulled; its named volume; its port on the service address', async (t) => {
    const n = node();
    const d = addon();
    n.api.desired = [d];
    await agentOn(t, n);

    assert.deepEqual(n.images.pulls, [], 'nothing pulled');
    assert.deepEqual(n.images.bootstraps, ['postgres postgres:latest']);
    assert.ok(n.lines.includes('Bootstrapped postgres as postgres:latest'), 'the bootstrap is logged');
    const options = n.runtime.created[0];
    assert.deepEqual(options?.ports, [
      { hostIp: SERVICE_ADDRESS, hostPort: 20001, containerPort: 5432, protocol: 'tcp' },
    ]);
    assert.deepEqual(options?.run.volumes, [
      { name: VOLUME, destination: '/var/lib/postgresql/data', readonly: false },
    ]);
    assert.deepEqual(options?.reach, [], 'an add-on reaches no other add-on');
    assert.equal(options?.restart, 'always');
    assert.deepEqual(options?.run.env, ['POSTGRES_PASSWORD=secret']);
    assert.equal(options?.run.entrypoint, undefined, "the image's own command");
    // isolated as an app's instance is, and found again by a restarted agent
    assert.equal(options?.labels?.['paas.app'], 'postgres-amber-12345');
    assert.equal(options?.labels?.['paas.addon'], 'postgres-amber-12345');
    assert.equal(options?.labels?.['paas.instance'], d.id);
    assert.deepEqual(n.runtime.made('create'), ['c1']);
    assert.equal(n.api.last(d.id)?.state, 'up');
    assert.equal(n.api.last(d.id)?.address, `${SERVICE_ADDRESS}:20001`, 'where the apps attached to it connect');
  });

  it('fails an add-on of a type this node cannot make once, with the reason', async (t) => {
    const n = node();
    const base = addon();
    const d = addon({ addon: { ...(base.addon as NonNullable<DesiredInstance['addon']>), type: 'mysql' } });
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(600_000);
    assert.equal(n.api.last(d.id)?.error, 'add-on postgres-amber-12345: unknown type mysql (postgres, redis)');
    assert.deepEqual([n.images.bootstraps, n.runtime.calls], [[], []], 'nothing made');
  });

  it('never makes again the volume of an add-on that was up: fails it for good, with the reason', async (t) => {
    const n = node();
    const base = addon();
    const d = addon({ addon: { ...(base.addon as NonNullable<DesiredInstance['addon']>), fresh: false } });
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(600_000);
    const report = n.api.last(d.id);
    assert.equal(report?.state, 'crashed');
    assert.equal(report?.final, true, 'its node will not try again');
    assert.match(report?.error ?? '', new RegExp(`its volume ${VOLUME} is gone from this node`));
    assert.equal(n.runtime.volumes.has(VOLUME), false, 'no empty database made under its name');
    assert.deepEqual(n.runtime.made('create'), [], 'no container');

    // one whose volume is there starts as ever
    const m = node();
    m.runtime.volumes.add(VOLUME);
    m.api.desired = [d];
    await agentOn(t, m);
    assert.equal(m.api.last(d.id)?.state, 'up');
    assert.equal(m.api.last(d.id)?.final, undefined);
  });

  it("removes a destroyed add-on's volume once its container is gone, and says so in the next heartbeat", async (t) => {
    const n = node();
    const d = addon();
    n.api.desired = [d];
    await agentOn(t, n);
    assert.ok(n.runtime.volumes.has(VOLUME));

    // destroyed: out of the set, its volume to be removed
    n.api.desired = [];
    n.api.removeVolumes = [VOLUME];
    await n.clock.advance(1000);
    assert.ok(n.runtime.volumes.has(VOLUME), 'kept while its container drains');
    assert.ok(n.runtime.calls.includes(`removeVolume ${VOLUME} in-use`));
    await n.clock.advance(3000);
    assert.deepEqual(n.runtime.made('remove'), ['c1']);
    assert.equal(n.runtime.volumes.has(VOLUME), false, 'removed once no container uses it');
    const told = n.api.requests.filter((r) => r.request.removedVolumes !== undefined);
    assert.deepEqual(
      told.map((r) => r.request.removedVolumes),
      [[VOLUME]],
      'told once',
    );

    assert.deepEqual(n.api.removeVolumes, [], 'the control plane heard');
    await n.clock.advance(2000);
    assert.equal(n.api.requests.at(-1)?.request.removedVolumes, undefined, 'nothing left to tell');
  });

  it('counts a volume that is not here as removed, and tells it again to a control plane that still asks, at its pace', async (t) => {
    const n = node();
    await agentOn(t, n);
    n.api.staleVolumes = true;
    n.api.removeVolumes = ['addon-never-here'];
    const before = n.api.requests.length;
    await n.clock.advance(5000);
    const beats = n.api.requests.slice(before);
    assert.deepEqual(beats.at(-1)?.request.removedVolumes, ['addon-never-here']);
    // one beat a second and the one its removal asked for: no beat of its own for a volume told already
    assert.ok(beats.length <= 7, `${beats.length} heartbeats in 5 s`);
    n.api.staleVolumes = false;
    await n.clock.advance(2000);
    assert.equal(n.api.requests.at(-1)?.request.removedVolumes, undefined, 'nothing left to tell');
  });

  it('keeps a volume an add-on of the desired set still mounts, whatever the answer says', async (t) => {
    const n = node();
    n.api.desired = [addon()];
    n.api.removeVolumes = [VOLUME];
    await agentOn(t, n);
    await n.clock.advance(5000);
    assert.ok(n.runtime.volumes.has(VOLUME));
    assert.ok(!n.runtime.calls.some((c) => c.startsWith('removeVolume')), 'not even tried');
  });
});

describe('agent heartbeats at rest', () => {
  /** The heartbeats sent from the `from`th on: whether each was full, what it named, and whether the answer had the set. */
  const sent = (n: Node, from: number) =>
    n.api.requests.slice(from).map(({ request, sentSet }) => ({
      full: request.full ?? true,
      ids: request.instances.map((r) => r.id),
      ...(request.gone ? { gone: request.gone } : {}),
      sentSet,
    }));

  it('sends only the reports that changed, gets no set back while it is unchanged, and a full report every 30th beat', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    assert.equal(n.api.last(d.id)?.state, 'up');
    const from = n.api.requests.length;
    const { stateReads, memoryReads } = n.runtime;

    await n.clock.advance(40_000);
    const beats = sent(n, from);
    assert.ok(beats.length >= 30, `${beats.length} heartbeats`);
    const full = beats.filter((b) => b.full);
    assert.ok(full.length >= 1 && full.length <= 2, `${full.length} full reports in ${beats.length}`);
    assert.ok(
      full.every((b) => b.ids.length === 1 && b.ids[0] === d.id),
      'a full report names every instance',
    );
    assert.ok(
      beats.every((b) => b.full || b.ids.length === 0),
      'a delta at rest names none',
    );
    assert.ok(
      beats.every((b) => !b.sentSet),
      'the unchanged set is never resent',
    );
    assert.equal(n.api.last(d.id)?.state, 'up', 'and the control plane still knows it up');
    assert.deepEqual(n.runtime.calls, [`create c1 ${d.image}`, 'start c1'], 'the node runs the set it holds');
    // the container's state is read now and then, not every beat; its memory likewise
    assert.ok(
      n.runtime.stateReads - stateReads <= beats.length / 5,
      `${n.runtime.stateReads - stateReads} state reads`,
    );
    assert.ok(
      n.runtime.memoryReads - memoryReads <= beats.length / 5,
      `${n.runtime.memoryReads - memoryReads} memory reads`,
    );

    // a new set is sent once and run
    const d2 = desiredInstance({ id: 'i-web-2-0000000000', number: 2 });
    n.api.desired = [d, d2];
    const before = n.api.requests.length;
    await n.clock.advance(3000);
    const after = sent(n, before).map((b) => b.sentSet);
    assert.deepEqual(after, [true, ...after.slice(1).map(() => false)], 'sent once');
    assert.deepEqual(n.runtime.made('create'), ['c1', 'c2']);
    assert.equal(n.api.last(d2.id)?.state, 'up');
  });

  it("makes an instance's report anew only when something it says may have changed", async (t) => {
    const n = node();
    const d = desiredInstance();
    const d2 = desiredInstance({ id: 'i-web-2-0000000000', number: 2 });
    n.api.desired = [d, d2];
    const agent = await agentOn(t, n);
    await n.clock.advance(3000);
    const first = (await agent.status()).instances;
    assert.deepEqual(
      first.map((r) => r.state),
      ['up', 'up'],
    );
    // asked again with nothing changed (as beat after beat of a scale-up asks a thousand instances): the very same reports
    const again = (await agent.status()).instances;
    assert.ok(
      again.every((r, k) => r === first[k]),
      'unchanged reports are not made again',
    );

    // its container exits: that one is made anew at once, the other stays as it was
    n.runtime.exited('c1', 1);
    const crashed = (await agent.status()).instances;
    assert.equal(crashed[0]?.state, 'crashed');
    assert.notEqual(crashed[0], first[0]);
    assert.equal(crashed[1], first[1]);

    // memory is sampled on its own clock: a change shows once it is due
    n.runtime.memoryBytes = 8192;
    await n.clock.advance(12_000);
    const sampled = (await agent.status()).instances;
    assert.equal(sampled[1]?.memoryBytes, 8192);
  });

  it('reports a crash at the next beat, and a memory change once it is sampled', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(5000);

    n.runtime.memoryBytes = 4096;
    await n.clock.advance(12_000);
    assert.equal(n.api.last(d.id)?.memoryBytes, 4096);

    const from = n.api.requests.length;
    n.runtime.exited('c1', 1);
    await n.clock.advance(1000);
    assert.equal(n.api.last(d.id)?.state, 'crashed');
    assert.equal(n.api.last(d.id)?.error, 'exited with code 1');
    assert.deepEqual(
      sent(n, from).map((b) => [b.full, b.ids]),
      [[false, [d.id]]],
      'in a delta',
    );
  });

  it('sends a full report after a failed heartbeat and when asked', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(3000);
    assert.deepEqual(sent(n, n.api.requests.length - 1)[0], { full: false, ids: [], sentSet: false });

    n.api.down = true;
    await n.clock.advance(3000);
    n.api.down = false;
    let from = n.api.requests.length;
    await n.clock.advance(2000);
    assert.deepEqual(
      sent(n, from).map((b) => b.full),
      [true, false],
    );

    n.api.askFull = true;
    from = n.api.requests.length;
    await n.clock.advance(2000);
    assert.deepEqual(
      sent(n, from).map((b) => b.full),
      [false, true],
    );
  });

  it('tells which instances left in a delta, once, instead of a full report', async (t) => {
    const n = node();
    const [d1, d2] = [desiredInstance(), desiredInstance({ id: 'i-web-2-0000000000', number: 2 })];
    n.api.desired = [d1, d2];
    await agentOn(t, n);
    await n.clock.advance(3000);

    n.api.desired = [d1];
    const from = n.api.requests.length;
    await n.clock.advance(6000);
    assert.deepEqual(n.runtime.made('remove'), ['c2']);
    const beats = sent(n, from).filter((b) => b.ids.length > 0 || b.gone);
    assert.deepEqual(
      beats.map(({ full, ids, gone }) => ({ full, ids, gone })),
      [
        { full: false, ids: [d2.id], gone: undefined }, // stopping
        { full: false, ids: [], gone: [d2.id] },
      ],
    );
    assert.ok(
      sent(n, from).every((b) => !b.full),
      'no full report for it',
    );
    assert.deepEqual(
      n.api.heartbeats.at(-1)?.map((r) => r.id),
      [d1.id],
      'the control plane learnt it is gone',
    );
  });

  it('keeps the ids of instances that left until a heartbeat that tells them is answered', async (t) => {
    const n = node();
    const d = desiredInstance();
    n.api.desired = [d];
    await agentOn(t, n);
    await n.clock.advance(3000);

    n.api.desired = [];
    await n.clock.advance(2000); // it hears it left, and drains
    n.api.down = true;
    await n.clock.advance(4000);
    assert.deepEqual(n.runtime.made('remove'), ['c1'], 'removed while the control plane is away');
    assert.deepEqual(
      n.api.heartbeats.at(-1)?.map((r) => r.id),
      [d.id],
      'not told yet',
    );
    n.api.down = false;
    await n.clock.advance(2000);
    assert.deepEqual(n.api.heartbeats.at(-1), [], 'the control plane learnt it is gone');
  });
});
