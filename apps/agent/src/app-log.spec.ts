import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_LOG_MAX_LINE, type NodeLogAnswer, type NodeLogBatch } from '@paas/platform';
import { ControlPlaneError } from './api-client';
import { BatchingAppLog, StreamNudges } from './app-log';
import type { LogIntake, LogSource, NodeEventStream } from './roles';
import { FakeClock, settle } from './testing/fakes';

const web1: LogSource = { id: 'i-web-1', appId: 'app-shop', name: 'web.1' };
const web2: LogSource = { id: 'i-web-2', appId: 'app-shop', name: 'web.2' };

/** The api's log intake: records each batch it took; `down` refuses with status 0 (unreachable), `refuse` with a status. */
class FakeIntake implements LogIntake {
  readonly batches: string[][] = [];
  down = false;
  refuse: number | null = null;
  /** Batches waiting for `answer()` when set: a slow api. */
  hold = false;
  private readonly held: (() => void)[] = [];
  /** The most batches that were on their way at once. */
  mostAtOnce = 0;
  private onTheirWay = 0;

  async sendLogs(node: string, batch: NodeLogBatch): Promise<NodeLogAnswer> {
    assert.equal(node, 'node-1');
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.onTheirWay);
    try {
      return await this.take(batch);
    } finally {
      this.onTheirWay--;
    }
  }

  private async take(batch: NodeLogBatch): Promise<NodeLogAnswer> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.down) throw new ControlPlaneError(0, 'http://api/api/nodes/node-1/logs: ECONNREFUSED');
    if (this.refuse !== null) throw new ControlPlaneError(this.refuse, `refused with ${this.refuse}`);
    this.batches.push(batch.lines.map((l) => `${l.instance} ${l.line}`));
    return { written: batch.lines.length, unknown: 0 };
  }

  answer(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }

  get lines(): string[] {
    return this.batches.flat();
  }
}

function setup(options: ConstructorParameters<typeof BatchingAppLog>[4] = {}) {
  const api = new FakeIntake();
  const clock = new FakeClock();
  const said: string[] = [];
  const log = new BatchingAppLog(api, 'node-1', clock, (line) => said.push(line), {
    flushMs: 100,
    batchLines: 3,
    maxBuffered: 5,
    maxBackoffMs: 1000,
    ...options,
  });
  return { api, clock, said, log };
}

describe("the agent's app log through the api", () => {
  it('sends lines in batches: after flushMs, or at once when a batch is full, each instance in order', async () => {
    const { api, clock, log } = setup();
    log.append(web1, 'a');
    log.append(web2, 'b');
    await clock.advance(99);
    assert.deepEqual(api.batches, [], 'nothing before flushMs');
    await clock.advance(1);
    assert.deepEqual(api.batches, [['i-web-1 a', 'i-web-2 b']]);

    log.append(web1, 'c');
    log.append(web1, 'd');
    log.append(web2, 'e');
    await settle();
    assert.deepEqual(api.batches.at(-1), ['i-web-1 c', 'i-web-1 d', 'i-web-2 e'], 'a full batch leaves at once');
    log.append(web1, 'f');
    await clock.advance(100);
    assert.deepEqual(api.lines, ['i-web-1 a', 'i-web-2 b', 'i-web-1 c', 'i-web-1 d', 'i-web-2 e', 'i-web-1 f']);
  });

  it('never has two batches on their way: the next leaves when the first is answered, in order', async () => {
    const { api, clock, log } = setup({ maxBuffered: 100 });
    api.hold = true;
    for (const l of ['1', '2', '3']) log.append(web1, l);
    await settle();
    for (const l of ['4', '5', '6', '7']) log.append(web1, l); // returns at once: the pipe never waits
    await clock.advance(500);
    assert.deepEqual(api.batches, [], 'the first batch is still on its way');
    api.hold = false;
    api.answer();
    await clock.advance(200);
    assert.deepEqual(api.batches, [
      ['i-web-1 1', 'i-web-1 2', 'i-web-1 3'],
      ['i-web-1 4', 'i-web-1 5', 'i-web-1 6'],
      ['i-web-1 7'],
    ]);
    assert.equal(api.mostAtOnce, 1);
  });

  it('keeps lines while the api is down, dropping the oldest beyond the bound, and says how many once it is back', async () => {
    const { api, clock, said, log } = setup();
    api.down = true;
    for (let i = 1; i <= 4; i++) log.append(web1, `w1-${i}`);
    for (let i = 1; i <= 3; i++) log.append(web2, `w2-${i}`);
    await clock.advance(3000);
    assert.deepEqual(api.batches, []);
    assert.equal(log.waiting, 5, 'the bound holds');
    assert.deepEqual(
      said,
      ['instance output waits (5 lines): http://api/api/nodes/node-1/logs: ECONNREFUSED'],
      'said once',
    );
    for (let i = 4; i <= 6; i++) log.append(web2, `w2-${i}`);
    await clock.advance(3000);
    api.down = false;
    await clock.advance(1000 + 100); // the back-off is at most maxBackoffMs, then a batch a flushMs
    assert.deepEqual(api.lines, [
      'i-web-1 [paas] 4 lines dropped: the control plane did not take them in time',
      'i-web-2 [paas] 1 lines dropped: the control plane did not take them in time',
      'i-web-2 w2-2',
      'i-web-2 w2-3',
      'i-web-2 w2-4',
      'i-web-2 w2-5',
      'i-web-2 w2-6',
    ]);
    assert.equal(said.at(-1), 'instance output reaches the control plane again');
  });

  it('drops a batch the api refuses (it would be refused again), says so, and goes on', async () => {
    const { api, clock, said, log } = setup();
    api.refuse = 403;
    log.append(web1, 'refused');
    await clock.advance(100);
    api.refuse = null;
    log.append(web1, 'taken');
    await clock.advance(100);
    assert.deepEqual(api.lines, ['i-web-1 taken']);
    assert.match(said.join('\n'), /a batch of 1 lines was refused and dropped: refused with 403/);
  });

  it('cuts a line longer than the api takes, and sends what waits when closed', async () => {
    const { api, log } = setup({ maxBuffered: 100 });
    log.append(web1, 'x'.repeat(NODE_LOG_MAX_LINE + 10));
    for (let i = 0; i < 4; i++) log.append(web2, `last ${i}`);
    await log.close();
    const lines = api.lines;
    assert.equal(lines[0]?.length, 'i-web-1 '.length + NODE_LOG_MAX_LINE);
    assert.ok(lines[0]?.endsWith('…'));
    assert.deepEqual(lines.slice(1), ['i-web-2 last 0', 'i-web-2 last 1', 'i-web-2 last 2', 'i-web-2 last 3']);
  });
});

/** The api's event stream of the node: each `open()` is one connection, fed by the spec. */
class FakeEvents implements NodeEventStream {
  opened = 0;
  private push: ((event: string | Error | null) => void) | null = null;
  refuseNext = 0;

  async *events(node: string, signal: AbortSignal): AsyncGenerator<string> {
    assert.equal(node, 'node-1');
    this.opened++;
    if (this.refuseNext > 0) {
      this.refuseNext--;
      throw new ControlPlaneError(0, 'ECONNREFUSED');
    }
    const queue: (string | Error | null)[] = ['ready'];
    let wake: (() => void) | null = null;
    this.push = (event) => {
      queue.push(event);
      wake?.();
    };
    signal.addEventListener('abort', () => this.push?.(null), { once: true });
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const next = queue.shift();
      if (next === null || next === undefined) return;
      if (next instanceof Error) throw next;
      yield next;
    }
  }

  nudge(): void {
    this.push?.('nudge');
  }

  /** The api replica goes away: the stream fails. */
  drop(): void {
    this.push?.(new ControlPlaneError(0, 'socket hang up'));
  }
}

describe("the agent's nudges through the api's event stream", () => {
  it('nudges on each event, and again each time the stream is opened anew after an api went away', async () => {
    const api = new FakeEvents();
    const clock = new FakeClock();
    const said: string[] = [];
    let nudges = 0;
    const stop = new StreamNudges(api, 'node-1', clock, (l) => said.push(l)).listen(() => nudges++);
    try {
      await settle();
      assert.equal(nudges, 1, 'the first stream opened: heartbeat now');
      api.nudge();
      api.nudge();
      await settle();
      assert.equal(nudges, 3);
      api.refuseNext = 2;
      api.drop();
      await settle();
      assert.equal(nudges, 3);
      await clock.advance(250 + 500 + 1000);
      assert.equal(api.opened, 4, 'reconnected after two refusals, with back-off');
      assert.equal(nudges, 4, 'the new stream nudged: what was published meanwhile is lost');
      assert.deepEqual(said, [
        'event stream (heartbeats only meanwhile): socket hang up',
        'event stream (heartbeats only meanwhile): ECONNREFUSED',
        'the event stream of the control plane is open again',
      ]);
      api.nudge();
      await settle();
      assert.equal(nudges, 5);
    } finally {
      stop();
    }
    await settle();
    api.nudge();
    await settle();
    assert.equal(nudges, 5, 'nothing once stopped');
  });
});
