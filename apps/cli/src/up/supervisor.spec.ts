import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Clock,
  type ComponentRun,
  type ComponentSpec,
  ComponentExitedError,
  type Exit,
  type ReadyMessage,
  Supervisor,
} from './supervisor';

/** Small components as scripts, so the supervisor is tested against real child processes. */
const scripts = {
  ready: `process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
          console.log('hello from ' + process.env.NAME); process.send({ ready: true, url: 'http://x' });
          setInterval(() => {}, 1000);`,
  crash: `console.error('boom'); process.exit(3);`,
  silent: `setInterval(() => {}, 1000);`,
  stubborn: `process.on('SIGTERM', () => {}); process.send({ ready: true, url: 'http://y' }); setInterval(() => {}, 1000);`,
  late: `process.send({ ready: true, url: 'http://z' }); setTimeout(() => process.exit(7), 50);`,
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Supervisor', () => {
  let dir: string;
  const path = (name: keyof typeof scripts): string => join(dir, `${name}.js`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-supervisor-'));
    for (const [name, body] of Object.entries(scripts)) writeFileSync(join(dir, `${name}.js`), body);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts components, prefixes their output, and stops them with SIGTERM', async () => {
    const lines: string[] = [];
    const sup = new Supervisor({ write: (l) => lines.push(l) });
    try {
      const [c] = await sup.start([{ name: 'api', script: path('ready'), env: { ...process.env, NAME: 'api' } }]);
      assert.ok(c);
      assert.equal(c.url, 'http://x');
      assert.ok(alive(c.pid));
      await sup.stop();
      assert.equal(alive(c.pid), false);
      assert.ok(lines.includes('api | hello from api\n'), lines.join(''));
      assert.ok(lines.includes('api | bye\n'), lines.join(''));
    } finally {
      await sup.stop();
    }
  });

  it('fails start when a component exits before it is ready, with its status', async () => {
    const lines: string[] = [];
    const sup = new Supervisor({ write: (l) => lines.push(l) });
    await assert.rejects(sup.start([{ name: 'db', script: path('crash'), env: process.env }]), (err: unknown) => {
      assert.ok(err instanceof ComponentExitedError);
      assert.equal(err.message, 'db exited with status 3');
      return true;
    });
    await sup.stop();
  });

  it('times out a component that never reports ready, and kills it on stop', async () => {
    const sup = new Supervisor({ readyTimeoutMs: 300, write: () => undefined });
    await assert.rejects(
      sup.start([{ name: 'mute', script: path('silent'), env: process.env }]),
      /not ready within 300 ms/,
    );
    await sup.stop();
  });

  it('escalates to SIGKILL when a component ignores SIGTERM', async () => {
    const sup = new Supervisor({ stopTimeoutMs: 200, write: () => undefined });
    const [c] = await sup.start([{ name: 'mule', script: path('stubborn'), env: process.env }]);
    assert.ok(c);
    await sup.stop();
    assert.equal(alive(c.pid), false);
  });

  it('restarts a real component that dies after it was ready', async () => {
    const lines: string[] = [];
    const sup = new Supervisor({ backoffMs: 10, write: (l) => lines.push(l) });
    try {
      await sup.start([{ name: 'late', script: path('late'), env: process.env }]);
      while (!lines.some((l) => l.startsWith('late is back'))) await new Promise((r) => setTimeout(r, 10));
      assert.ok(lines.includes('late exited with status 7; restarting in 0.01 s (restart 1)\n'), lines.join(''));
      assert.match(lines.join(''), /late is back at http:\/\/z \(pid \d+\)\n/);
    } finally {
      await sup.stop();
    }
  });

  it('fails start when the readiness probe fails', async () => {
    const sup = new Supervisor({ write: () => undefined });
    await assert.rejects(
      sup.start([{ name: 'api', script: path('ready'), env: process.env, probe: async () => false }]),
      /api reported ready at http:\/\/x but its readiness probe failed/,
    );
    await sup.stop();
  });
});

/** Time that moves only when a test says so. */
class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; callback: () => void }[] = [];
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, callback };
    this.timers.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }
  /** Moves time on by `ms`, firing the timers due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.clearTimeout(next);
      this.time = next.at;
      next.callback();
    }
    this.time = end;
    await settle();
  }
}

/** Lets pending promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A child process the test drives: it gets ready, dies, and records the signals it was sent. */
class FakeRun implements ComponentRun {
  readonly signals: NodeJS.Signals[] = [];
  readonly ready: Promise<ReadyMessage>;
  readonly exited: Promise<Exit>;
  private resolveReady!: (m: ReadyMessage) => void;
  private rejectReady!: (err: Error) => void;
  private resolveExit!: (exit: Exit) => void;
  gone = false;
  constructor(
    readonly name: string,
    readonly pid: number,
    readonly env: Readonly<Record<string, string | undefined>>,
    /** Whether SIGTERM ends it. */
    private readonly obeys = true,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }
  becomeReady(url = `http://${this.name}:${this.pid}`): void {
    this.resolveReady({ ready: true, url });
  }
  die(exit: Exit): void {
    if (this.gone) return;
    this.gone = true;
    this.rejectReady(new ComponentExitedError(this.name, exit.code, exit.signal));
    this.resolveExit(exit);
  }
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    if (signal === 'SIGKILL' || this.obeys) this.die({ code: null, signal });
  }
}

describe('Supervisor restarts', () => {
  const SIGKILL = { code: null, signal: 'SIGKILL' as const };
  /** A supervisor on a fake clock whose launches are FakeRuns, readied by the test. */
  const setup = (options: { stubborn?: boolean; refuse?: () => boolean } = {}) => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const runs: FakeRun[] = [];
    let pids = 100;
    const sup = new Supervisor({
      clock,
      readyTimeoutMs: 1000,
      stopTimeoutMs: 500,
      backoffMs: 100,
      maxBackoffMs: 1000,
      resetAfterMs: 5000,
      write: (l) => lines.push(l),
      launch: (spec, env) => {
        if (options.refuse?.()) throw new Error('spawn EAGAIN');
        const run = new FakeRun(spec.name, pids++, env, !options.stubborn);
        runs.push(run);
        return run;
      },
    });
    const last = (): FakeRun => {
      const run = runs.at(-1);
      assert.ok(run, 'a run was launched');
      return run;
    };
    /** Starts `specs`, readying each launch as it comes. */
    const start = async (specs: ComponentSpec[]): Promise<void> => {
      const started = sup.start(specs);
      for (let i = 0; i < specs.length; i++) {
        await settle();
        last().becomeReady();
      }
      await started;
    };
    return { clock, lines, runs, sup, last, start };
  };
  const spec = (name: string, extra: Partial<ComponentSpec> = {}): ComponentSpec => ({
    name,
    env: { A: '1' },
    ...extra,
  });

  it('restarts a dead component after a back-off that doubles up to its cap, with its first address pinned', async () => {
    const { clock, lines, runs, sup, last, start } = setup();
    try {
      await start([spec('api', { pin: (first) => ({ ADDR: new URL(first.url).host }) })]);
      const delays: number[] = [];
      for (let death = 1; death <= 6; death++) {
        last().die(SIGKILL);
        await settle();
        const before = runs.length;
        const line = lines.at(-1) ?? '';
        const [, seconds] = /restarting in ([\d.]+) s/.exec(line) ?? [];
        delays.push(Number(seconds) * 1000);
        assert.equal(line, `api exited on signal SIGKILL; restarting in ${seconds} s (restart ${death})\n`);
        await clock.advance(Number(seconds) * 1000 - 1);
        assert.equal(runs.length, before, 'not restarted before its delay');
        await clock.advance(1);
        assert.equal(runs.length, before + 1, 'restarted once the delay is over');
        last().becomeReady();
        await settle();
        assert.equal(lines.at(-1), `api is back at http://api:${last().pid} (pid ${last().pid})\n`);
      }
      assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
      assert.deepEqual(
        runs.map((r) => r.env),
        [{ A: '1' }, ...Array(6).fill({ A: '1', ADDR: 'api:100' })],
      );
    } finally {
      await sup.stop();
    }
  });

  it('starts the back-off over once a component has stayed up a while', async () => {
    const { clock, lines, sup, last, start } = setup();
    try {
      await start([spec('agent')]);
      for (const wait of [100, 200]) {
        last().die({ code: 1, signal: null });
        await clock.advance(wait);
        last().becomeReady();
        await settle();
      }
      await clock.advance(4999);
      last().die({ code: 1, signal: null });
      await settle();
      assert.equal(lines.at(-1), 'agent exited with status 1; restarting in 0.4 s (restart 3)\n');
      await clock.advance(400);
      last().becomeReady();
      await clock.advance(5000);
      last().die({ code: 1, signal: null });
      await settle();
      assert.equal(lines.at(-1), 'agent exited with status 1; restarting in 0.1 s (restart 4)\n');
    } finally {
      await sup.stop();
    }
  });

  it('counts a restart that dies before it is ready as another death', async () => {
    const { clock, lines, runs, sup, last, start } = setup();
    try {
      await start([spec('redis')]);
      last().die(SIGKILL);
      await clock.advance(100);
      last().die({ code: 1, signal: null });
      await settle();
      assert.equal(lines.at(-1), 'redis exited with status 1; restarting in 0.2 s (restart 2)\n');
      await clock.advance(200);
      assert.equal(runs.length, 3);
    } finally {
      await sup.stop();
    }
  });

  it('kills a restart that is not ready in time or fails its probe, and tries again', async () => {
    let healthy = false;
    const { clock, lines, runs, sup, last, start } = setup();
    try {
      healthy = true;
      await start([spec('router', { probe: async () => healthy })]);
      last().die(SIGKILL);
      await clock.advance(100);
      const hung = last();
      await clock.advance(1000);
      assert.deepEqual(hung.signals, ['SIGKILL']);
      assert.ok(
        lines.includes('router did not come back: router was not ready within 1000 ms; killing it\n'),
        lines.join(''),
      );
      assert.equal(lines.at(-1), 'router exited on signal SIGKILL; restarting in 0.2 s (restart 2)\n');
      healthy = false;
      await clock.advance(200);
      last().becomeReady();
      await settle();
      assert.deepEqual(last().signals, ['SIGKILL']);
      assert.match(
        lines.join(''),
        /router did not come back: router reported ready at \S+ but its readiness probe failed/,
      );
      healthy = true;
      await clock.advance(400);
      last().becomeReady();
      await settle();
      assert.equal(lines.at(-1), `router is back at http://router:${last().pid} (pid ${last().pid})\n`);
      assert.equal(runs.length, 4);
    } finally {
      await sup.stop();
    }
  });

  it('tries again, with the back-off, when a restart cannot even be launched', async () => {
    let refuse = false;
    const { clock, lines, runs, sup, last, start } = setup({ refuse: () => refuse });
    try {
      await start([spec('agent')]);
      refuse = true;
      last().die(SIGKILL);
      await clock.advance(100);
      assert.equal(lines.at(-1), 'agent could not be started: spawn EAGAIN; restarting in 0.2 s (restart 2)\n');
      refuse = false;
      await clock.advance(200);
      assert.equal(runs.length, 2);
      last().becomeReady();
      await settle();
      assert.match(lines.at(-1) ?? '', /^agent is back/);
    } finally {
      await sup.stop();
    }
  });

  it('fails start, and restarts nothing, when a component dies before its first ready', async () => {
    const { clock, runs, sup } = setup();
    const started = sup.start([spec('api')]);
    await settle();
    runs[0]?.die({ code: 1, signal: null });
    await assert.rejects(started, (err: unknown) => err instanceof ComponentExitedError && err.status === 1);
    await clock.advance(60_000);
    assert.equal(runs.length, 1);
    await sup.stop();
  });

  it('stops in reverse order, never restarts while stopping, and cancels a pending restart', async () => {
    const { clock, lines, runs, sup, start } = setup({ stubborn: true });
    await start([spec('registry'), spec('api'), spec('router')]);
    const [registry, api, router] = runs;
    assert.ok(registry && api && router);
    api.die(SIGKILL); // a restart is pending when the stop comes
    await settle();
    const order: string[] = [];
    for (const run of runs) {
      const kill = run.kill.bind(run);
      run.kill = (signal) => {
        order.push(`${run.name} ${signal}`);
        kill(signal);
      };
    }
    const stopped = sup.stop();
    router.die({ code: 0, signal: null }); // its own SIGTERM handler ends it
    await clock.advance(500);
    await stopped;
    assert.deepEqual(order, ['router SIGTERM', 'registry SIGTERM', 'registry SIGKILL']);
    await assert.rejects(sup.start([spec('agent')]), /agent not started: the platform is stopping/);
    await clock.advance(60_000);
    assert.equal(runs.length, 3, 'no run started during or after the stop');
    assert.deepEqual(
      lines.filter((l) => l.includes('restarting')),
      ['api exited on signal SIGKILL; restarting in 0.1 s (restart 1)\n'],
      'a death during the stop is no reason to restart',
    );
  });
});
